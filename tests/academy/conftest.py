import pytest


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path, monkeypatch):
    """Certificates (private storage) and expert photos (media) go to a temporary folder."""
    from opencity.cities import conf as cities_conf

    monkeypatch.setattr(cities_conf, "PRIVATE_FILES_ROOT", tmp_path / "private")
    settings.MEDIA_ROOT = str(tmp_path / "media")
