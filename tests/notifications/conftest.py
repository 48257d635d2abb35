import pytest

from opencity.cities.models import StaffRole
from tests.factories import make_clerk


@pytest.fixture
def responder_a(db, city_a):
    return make_clerk(city_a, StaffRole.Role.RESPONDER, full_name="Олег Відповідач")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the code queues on commit (fan-out, e-mail delivery) when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path, monkeypatch):
    """Council decisions and expert photos go to a temporary directory in tests."""
    from opencity.cities import conf as cities_conf

    monkeypatch.setattr(cities_conf, "PRIVATE_FILES_ROOT", tmp_path / "private")
    settings.MEDIA_ROOT = str(tmp_path / "media")
