"""Factories for public budgets: programmes in a chosen stage, categories, initiatives."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from initiatives.models import Category, CostLine, District, Initiative, Programme, Vote
from initiatives.services import vote_cast
from tests.factories import make_user

_seq = itertools.count(1)

# Offsets in days from today: submission opens/closes, review closes, voting opens/closes,
# implementation starts.
STAGE_OFFSETS = {
    "upcoming": (1, 5, 10, 11, 20, 30),
    "submission": (-5, 5, 10, 11, 20, 30),
    "review": (-20, -10, 5, 6, 15, 30),
    "voting": (-30, -20, -10, -5, 5, 30),
    "results": (-60, -50, -40, -30, -1, 30),
    "implementation": (-90, -80, -70, -60, -30, -1),
}


def stage_dates(stage: str, today: date | None = None) -> dict:
    today = today or timezone.localdate()
    names = (
        "submission_opens",
        "submission_closes",
        "review_closes",
        "voting_opens",
        "voting_closes",
        "implementation_starts",
    )
    return {
        name: today + timedelta(days=offset)
        for name, offset in zip(names, STAGE_OFFSETS[stage], strict=True)
    }


def make_programme(city, *, stage: str = "voting", **fields) -> Programme:
    n = next(_seq)
    defaults = {
        "title": f"Громадський бюджет {n}",
        "slug": f"budget-{n}",
        "year": 2027,
        "total_budget": Decimal("10000000.00"),
        "max_votes": 3,
        "min_voter_age": 16,
        "residents_only": True,
        **stage_dates(stage),
    }
    defaults.update(fields)
    return Programme.objects.create(city=city, **defaults)


def make_category(programme, *, budget="1000000", max_cost="500000", **fields) -> Category:
    n = next(_seq)
    fields.setdefault("name", f"Категорія {n}")
    fields.setdefault("position", n)
    return Category.objects.create(
        programme=programme, budget=Decimal(budget), max_project_cost=Decimal(max_cost), **fields
    )


def make_district(programme, name=None) -> District:
    return District.objects.create(programme=programme, name=name or f"Район {next(_seq)}")


def make_initiative(
    programme,
    category=None,
    *,
    author=None,
    cost="100000",
    status=Initiative.Status.ACCEPTED,
    submitted_at=None,
    **fields,
) -> Initiative:
    n = next(_seq)
    category = category or programme.categories.first() or make_category(programme)
    author = author or make_user(home_city=programme.city)
    initiative = Initiative.objects.create(
        programme=programme,
        category=category,
        author=author,
        title=fields.pop("title", f"Проєкт {n}"),
        summary=fields.pop("summary", "Короткий опис проєкту."),
        description=fields.pop("description", "Що зробимо і для кого."),
        address=fields.pop("address", "вул. Лесі Українки, 1"),
        total_cost=Decimal(cost),
        status=status,
        submitted_at=submitted_at or timezone.now(),
        **fields,
    )
    CostLine.objects.create(
        initiative=initiative, position=1, description="Роботи", amount=Decimal(cost)
    )
    return initiative


def years_ago(years: int, today: date | None = None) -> date:
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def make_voter(city, *, age: int = 30, **fields):
    fields.setdefault("date_of_birth", years_ago(age) - timedelta(days=1))
    return make_user(home_city=city, **fields)


def cast(voter, initiative) -> Vote:
    return vote_cast(voter=voter, initiative=initiative)
