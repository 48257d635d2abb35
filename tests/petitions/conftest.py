import pytest

from opencity.cities.models import StaffRole
from tests.factories import make_clerk


@pytest.fixture
def responder_a(db, city_a):
    return make_clerk(city_a, StaffRole.Role.RESPONDER, full_name="Олег Відповідач")
