"""Plain factories for the shared models; each app adds tests/<app>/factories.py."""

from __future__ import annotations

import itertools

from allauth.account.models import EmailAddress

from opencity.accounts.models import User
from opencity.cities.models import City, StaffRole
from opencity.cities.services import staff_role_assign

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-42"


def make_city(**fields) -> City:
    n = next(_seq)
    defaults = {
        "katottg": f"UA{n:017d}",
        "slug": f"city-{n}",
        "name_uk": f"Місто {n}",
        "name_en": f"City {n}",
        "oblast_uk": "Волинська",
        "oblast_en": "Volynska",
        "population": 100_000,
    }
    defaults.update(fields)
    return City.objects.create(**defaults)


def make_user(*, verified: bool = True, email: str | None = None, **fields) -> User:
    n = next(_seq)
    email = email or f"person{n}@example.org"
    fields.setdefault("full_name", f"Петро Тестовий {n}")
    user = User.objects.create_user(email=email, password=PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def make_clerk(city: City, *roles: str, **fields) -> User:
    user = make_user(**fields)
    for role in roles or StaffRole.Role.values:
        staff_role_assign(user=user, city=city, role=role)
    return user
