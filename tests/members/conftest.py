import pytest

from opencity.cities import conf


@pytest.fixture(autouse=True)
def _private_files(tmp_path, monkeypatch):
    """Uploaded council decisions go to a temporary directory in tests."""
    monkeypatch.setattr(conf, "PRIVATE_FILES_ROOT", tmp_path / "private")
    return tmp_path / "private"
