"""Rules frozen at the start of voting: a read-only copy enforced by the database, the only
rules the tally reads, shown on the programme page, refused in the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from initiatives.models import Category, FrozenRules, Programme
from initiatives.services import (
    programme_announce_stage,
    programme_freeze_rules,
    tally_programme,
)
from opencity.core.models import AuditEntry
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)
from tests.initiatives.test_ballot import confirm

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2)
    make_category(programme, name="Малі", budget="300000", max_cost="300000")
    return programme


def test_voting_start_freezes_the_rules_and_budgets_once_with_an_audit_entry(programme):
    assert programme_announce_stage(programme_id=programme.pk)
    frozen = FrozenRules.objects.get(programme=programme)
    assert frozen.max_votes == 2 and frozen.total_budget == programme.total_budget
    assert frozen.categories[0]["name"] == "Малі" and frozen.categories[0]["budget"] == "300000.00"
    assert programme_freeze_rules(programme_id=programme.pk).pk == frozen.pk
    assert AuditEntry.objects.filter(action="initiatives.programme.rules_frozen").count() == 1


def test_the_database_refuses_changing_frozen_rules_or_budgets(programme):
    programme_freeze_rules(programme_id=programme.pk)
    category = programme.categories.get()
    attempts = [
        lambda: Programme.objects.filter(pk=programme.pk).update(max_votes=5),
        lambda: Programme.objects.filter(pk=programme.pk).update(total_budget=Decimal("1")),
        lambda: Programme.objects.filter(pk=programme.pk).update(residents_only=False),
        lambda: Category.objects.filter(pk=category.pk).update(budget=Decimal("900000")),
        lambda: Category.objects.filter(pk=category.pk).delete(),
        lambda: make_category(programme, name="Нова"),
        lambda: FrozenRules.objects.filter(programme=programme).update(max_votes=9),
        lambda: FrozenRules.objects.filter(programme=programme).delete(),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError), transaction.atomic():
            attempt()
    programme.refresh_from_db()
    assert programme.max_votes == 2
    # What is not a rule still changes: the title, a category's name, the closing date.
    Programme.objects.filter(pk=programme.pk).update(title="Новий заголовок")
    Category.objects.filter(pk=category.pk).update(name="Малі проєкти")


def test_rules_change_freely_before_the_freeze(city_a):
    programme = make_programme(city_a, stage="review")
    Programme.objects.filter(pk=programme.pk).update(max_votes=7)
    make_category(programme)


def test_the_tally_ignores_a_tampered_live_budget(programme, city_a):
    category = programme.categories.get()
    costly = make_initiative(programme, category, cost="250000")
    cheap = make_initiative(programme, category, cost="50000")
    for voter in (make_voter(city_a), make_voter(city_a)):
        confirm(voter, programme, [costly])
    confirm(make_voter(city_a), programme, [cheap])
    # Someone with database rights bypasses the triggers and lowers the live budget.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE initiatives_category SET budget = 10, max_project_cost = 10 WHERE id = %s",
            [category.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    snapshot = tally_programme(programme_id=programme.pk, force=True)
    winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
    assert winners == {costly.pk, cheap.pk}, "the frozen 300 000 budget, not the live 10"


def test_programme_page_shows_the_rules_in_force_and_when_frozen(
    client, programme, django_capture_on_commit_callbacks
):
    before = client.get(programme.get_absolute_url()).content.decode()
    assert "фіксуються" in before
    # The freeze commits, which rebuilds the cached programme page.
    with django_capture_on_commit_callbacks(execute=True):
        programme_freeze_rules(programme_id=programme.pk)
    html = client.get(programme.get_absolute_url()).content.decode()
    assert "зафіксовані" in html and "300 000,00" in html.replace("\xa0", " ")
    assert "прихована" in html  # counts hidden until the results, the default


def test_admin_refuses_rule_edits_after_the_freeze_with_a_clear_message(
    client, city_admin_a, programme
):
    programme_freeze_rules(programme_id=programme.pk)
    client.force_login(city_admin_a)
    url = reverse("admin:initiatives_programme_change", args=[programme.pk])
    page = client.get(url).content.decode()
    assert "більше не можна змінити" in page
    category = programme.categories.get()
    data = {
        "title": programme.title,
        "year": programme.year,
        "description": "",
        "max_votes": 9,
        "total_budget": "1",
        "categories-TOTAL_FORMS": "1",
        "categories-INITIAL_FORMS": "1",
        "categories-MIN_NUM_FORMS": "0",
        "categories-MAX_NUM_FORMS": "1000",
        "categories-0-id": category.pk,
        "categories-0-programme": programme.pk,
        "categories-0-name": category.name,
        "categories-0-budget": "999999",
        "categories-0-max_project_cost": "1000",
        "categories-0-position": "1",
        "districts-TOTAL_FORMS": "0",
        "districts-INITIAL_FORMS": "0",
        "districts-MIN_NUM_FORMS": "0",
        "districts-MAX_NUM_FORMS": "1000",
    }
    client.post(url, data)
    programme.refresh_from_db()
    category.refresh_from_db()
    assert programme.max_votes == 2 and programme.total_budget != Decimal("1")
    assert category.budget == Decimal("300000")


def test_admin_form_refuses_changed_rules_once_voting_started(city_admin_a, programme):
    from initiatives.admin_forms import ProgrammeForm

    form = ProgrammeForm(
        data={
            "city": programme.city_id,
            "title": programme.title,
            "slug": programme.slug,
            "year": programme.year,
            "total_budget": "5",
            "max_votes": 2,
            "min_voter_age": 16,
            "residents_only": "on",
            "winner_rule": "category_greedy",
            **{k: v.isoformat() for k, v in stage_dates("voting").items()},
        },
        instance=programme,
    )
    assert not form.is_valid()
    assert "Голосування розпочалося" in str(form.non_field_errors())
