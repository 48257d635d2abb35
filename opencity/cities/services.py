"""Writes on cities and their staff: staff roles, and the hromada registry import."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.utils.text import slugify

from opencity.cities.models import City, StaffRole, default_council_name_en, default_council_name_uk
from opencity.core.services import audit


@transaction.atomic
def staff_role_assign(*, user, city: City, role: str, actor=None) -> StaffRole:
    """Give `user` a role in `city` and the admin access it implies. Idempotent."""
    staff_role, created = StaffRole.objects.get_or_create(user=user, city=city, role=role)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if created:
        audit(
            obj=staff_role,
            action="cities.staff_role.assigned",
            actor=actor,
            city=city,
            to_state=role,
        )
    return staff_role


@transaction.atomic
def staff_role_revoke(*, staff_role: StaffRole, actor=None) -> None:
    user, city, role = staff_role.user, staff_role.city, staff_role.role
    audit(
        obj=staff_role, action="cities.staff_role.revoked", actor=actor, city=city, from_state=role
    )
    staff_role.delete()
    if not user.is_superuser and not user.staff_roles.exists() and not user.groups.exists():
        user.is_staff = False
        user.save(update_fields=["is_staff"])


HROMADAS_CSV = Path(__file__).resolve().parent / "data" / "hromadas.csv"
_CITY_FIELDS = (
    "slug", "name_uk", "name_en", "raion_uk", "oblast_uk", "oblast_en", "population",
    "edem_petitions", "edem_participatory_budget",
)  # fmt: skip


def _slugs(rows: list[dict]) -> dict[str, str]:
    """Stable, unique slugs: the English name, qualified by oblast (then code) when shared."""
    by_name = Counter(slugify(row["name_en"]) for row in rows)
    by_name_oblast = Counter((slugify(row["name_en"]), slugify(row["oblast_en"])) for row in rows)
    slugs = {}
    for row in rows:
        name, oblast = slugify(row["name_en"]), slugify(row["oblast_en"])
        if by_name[name] == 1:
            slugs[row["katottg"]] = name
        elif by_name_oblast[(name, oblast)] == 1:
            slugs[row["katottg"]] = f"{name}-{oblast}"
        else:
            slugs[row["katottg"]] = f"{name}-{oblast}-{row['katottg'][-5:].lower()}"
    return slugs


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {value!r}")
    return value == "1"


@transaction.atomic
def import_hromadas(path: Path = HROMADAS_CSV) -> tuple[int, int]:
    """Create or update every hromada from the CSV, keyed by KATOTTG code. Idempotent.

    Returns (created, updated). Existing rows keep their website and anything else the
    CSV does not carry.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    slugs = _slugs(rows)
    existing = {city.katottg: city for city in City.objects.all()}
    to_create, to_update = [], []
    for row in rows:
        values = {
            "slug": slugs[row["katottg"]],
            "name_uk": row["name_uk"].strip(),
            "name_en": row["name_en"].strip(),
            "raion_uk": row["raion_uk"].strip(),
            "oblast_uk": row["oblast_uk"].strip(),
            "oblast_en": row["oblast_en"].strip(),
            "population": int(row["population_2022"]) if row["population_2022"] else None,
            "edem_petitions": _flag(row["edem_petitions"]),
            "edem_participatory_budget": _flag(row["edem_participatory_budget"]),
        }
        city = existing.get(row["katottg"])
        if city is None:
            # Staff correct it in admin to the official name («Луцька міська рада»).
            council = {
                "council_name_uk": default_council_name_uk(values["name_uk"]),
                "council_name_en": default_council_name_en(values["name_en"]),
            }
            to_create.append(City(katottg=row["katottg"], **values, **council))
        elif any(getattr(city, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(city, key, value)
            to_update.append(city)
    if to_update:
        # Free the slugs first so that a rename between two rows never trips the constraint.
        City.objects.filter(pk__in=[city.pk for city in to_update]).update(
            slug=Concat(Value("tmp-"), "katottg")
        )
        City.objects.bulk_update(to_update, _CITY_FIELDS, batch_size=500)
    City.objects.bulk_create(to_create, batch_size=500)
    return len(to_create), len(to_update)
