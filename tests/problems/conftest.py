import pytest

from tests.problems.factories import make_area, make_tree


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Uploaded photos go to a temporary folder per test (public and private)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    from opencity.cities import conf

    original = conf.PRIVATE_FILES_ROOT
    conf.PRIVATE_FILES_ROOT = tmp_path / "private"
    yield
    conf.PRIVATE_FILES_ROOT = original


@pytest.fixture(autouse=True)
def _forget_city_slugs():
    """Each test creates its cities anew: the process must not remember their old ids."""
    from problems import selectors

    selectors.forget_city_slug()
    yield
    selectors.forget_city_slug()


@pytest.fixture
def area_a(city_a):
    return make_area(city_a)


@pytest.fixture
def tree_a(city_a, area_a):
    return make_tree(city_a)


@pytest.fixture
def potholes(tree_a):
    return tree_a[2]
