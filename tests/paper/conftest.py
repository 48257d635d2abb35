import pytest

from opencity.cities.models import StaffRole
from tests.factories import make_clerk
from tests.petitions.factories import make_petition


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path, monkeypatch):
    from opencity.cities import conf

    monkeypatch.setattr(conf, "PRIVATE_FILES_ROOT", tmp_path / "private")


@pytest.fixture
def clerk_a(db, city_a):
    return make_clerk(city_a, StaffRole.Role.SERVICE_CLERK, full_name="Оксана Операторка")


@pytest.fixture
def clerk_a2(db, city_a):
    return make_clerk(city_a, StaffRole.Role.SERVICE_CLERK, full_name="Петро Перевіряльник")


@pytest.fixture
def clerk_b(db, city_b):
    return make_clerk(city_b, StaffRole.Role.SERVICE_CLERK, full_name="Богдан Чернівецький")


@pytest.fixture
def petition(db, city_a):
    return make_petition(city_a, threshold=5)
