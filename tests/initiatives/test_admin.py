"""Admin: the working group's review, stage extension, tally, publication, implementation;
everything scoped to the clerk's city and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from initiatives.models import ImplementationUpdate, Initiative, Programme, ResultSnapshot
from initiatives.services import programme_extend_stage, tally_programme, vote_cast
from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from tests.initiatives.factories import (
    make_category,
    make_initiative,
    make_programme,
    make_voter,
    stage_dates,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(city_a):
    programme = make_programme(city_a, stage="review")
    make_category(programme)
    return programme


@pytest.fixture
def submitted(in_review):
    return make_initiative(in_review, status=Initiative.Status.SUBMITTED, title="Велодоріжка")


@pytest.fixture
def foreign(city_b):
    programme = make_programme(city_b, stage="review")
    return make_initiative(programme, status=Initiative.Status.SUBMITTED, title="Чужий проєкт")


def review_url(initiative):
    return reverse("admin:initiatives_initiative_review", args=[initiative.pk])


def test_review_queue_shows_only_the_clerks_city(moderator_a_client, submitted, foreign):
    html = moderator_a_client.get(
        reverse("admin:initiatives_initiativeforreview_changelist")
    ).content.decode()
    assert "Велодоріжка" in html and "Чужий проєкт" not in html
    html = moderator_a_client.get(
        reverse("admin:initiatives_initiative_changelist")
    ).content.decode()
    assert "Велодоріжка" in html and "Чужий проєкт" not in html


def test_clerk_cannot_open_or_review_another_citys_initiative(moderator_a_client, foreign):
    change = reverse("admin:initiatives_initiative_change", args=[foreign.pk])
    assert moderator_a_client.get(change).status_code in (302, 403, 404)
    # Another city's initiative answers as if it did not exist.
    assert moderator_a_client.post(review_url(foreign), {"decision": "accept"}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == Initiative.Status.SUBMITTED


def test_citizen_cannot_use_the_admin(citizen_client, submitted):
    response = citizen_client.get(review_url(submitted))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_clerk_accepts_an_initiative_for_voting(
    moderator_a_client, moderator_a, submitted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_a_client.post(review_url(submitted), {"decision": "accept"})
    assert response.status_code == 302
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.ACCEPTED
    entry = AuditEntry.objects.get(action="initiatives.initiative.accepted")
    assert entry.actor == moderator_a and entry.to_state == "accepted"
    assert OutboundEmail.objects.filter(key__startswith="initiatives:accepted:").count() == 1


def test_rejection_needs_a_reason_and_records_it(moderator_a_client, submitted):
    response = moderator_a_client.post(review_url(submitted), {"decision": "reject"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.SUBMITTED
    moderator_a_client.post(
        review_url(submitted), {"decision": "reject", "reason": "private_land", "comment": ""}
    )
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.REJECTED
    assert submitted.rejection_reason == "private_land"
    assert AuditEntry.objects.get(action="initiatives.initiative.rejected").reason.startswith(
        "private_land"
    )
    assert OutboundEmail.objects.filter(key__startswith="initiatives:rejected:").count() == 1


def test_other_reason_needs_an_explanation(moderator_a_client, submitted):
    response = moderator_a_client.post(
        review_url(submitted), {"decision": "reject", "reason": "other"}
    )
    assert response.status_code == 200
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.SUBMITTED


def test_asking_for_a_revision_needs_comments(moderator_a_client, submitted):
    response = moderator_a_client.post(review_url(submitted), {"decision": "revise"})
    assert response.status_code == 200
    moderator_a_client.post(
        review_url(submitted), {"decision": "revise", "comment": "Додайте кошторис."}
    )
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.REVISION
    assert submitted.review_comment == "Додайте кошторис."


def test_a_decision_is_taken_once(moderator_a_client, submitted):
    moderator_a_client.post(review_url(submitted), {"decision": "accept"})
    response = moderator_a_client.post(
        review_url(submitted), {"decision": "reject", "reason": "duplicate"}
    )
    assert response.status_code == 200
    submitted.refresh_from_db()
    assert submitted.status == Initiative.Status.ACCEPTED


def test_review_is_closed_once_voting_started(moderator_a_client, city_a):
    programme = make_programme(city_a, stage="voting")
    initiative = make_initiative(programme, status=Initiative.Status.SUBMITTED)
    moderator_a_client.post(review_url(initiative), {"decision": "accept"})
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.SUBMITTED


def test_clerk_extends_voting_with_an_audit_entry(moderator_a_client, moderator_a, city_a):
    programme = make_programme(city_a, stage="voting")
    url = reverse("admin:initiatives_programme_extend", args=[programme.pk])
    until = programme.voting_closes + timedelta(days=5)
    response = moderator_a_client.post(
        url, {"stage": "voting", "until": until.isoformat(), "reason": "Багато голосів"}
    )
    assert response.status_code == 302
    programme.refresh_from_db()
    assert programme.voting_closes == until
    entry = AuditEntry.objects.get(action="initiatives.programme.stage_extended")
    assert entry.actor == moderator_a and entry.reason == "Багато голосів"
    assert OutboundEmail.objects.filter(key__startswith="initiatives:extended:").exists()


def test_extension_into_the_next_stage_is_refused(moderator_a, city_a):
    programme = make_programme(city_a, stage="voting")
    with pytest.raises(Refused):
        programme_extend_stage(
            programme=programme,
            stage="voting",
            until=programme.implementation_starts + timedelta(days=1),
            actor=moderator_a,
            reason="x",
        )
    programme.refresh_from_db()
    assert not AuditEntry.objects.filter(action="initiatives.programme.stage_extended").exists()


def test_extension_to_an_earlier_date_is_refused(moderator_a_client, in_review):
    url = reverse("admin:initiatives_programme_extend", args=[in_review.pk])
    earlier = in_review.review_closes - timedelta(days=1)
    response = moderator_a_client.post(
        url, {"stage": "review", "until": earlier.isoformat(), "reason": "x"}
    )
    assert response.status_code == 200
    in_review.refresh_from_db()
    assert in_review.review_closes == earlier + timedelta(days=1)
    assert not AuditEntry.objects.filter(action="initiatives.programme.stage_extended").exists()


def test_clerk_cannot_extend_another_citys_programme(moderator_b_client_factory, in_review):
    client = moderator_b_client_factory
    url = reverse("admin:initiatives_programme_extend", args=[in_review.pk])
    assert client.get(url).status_code in (403, 404)


@pytest.fixture
def moderator_b_client_factory(client, moderator_b):
    client.force_login(moderator_b)
    return client


def test_programme_admin_lists_only_the_clerks_city(moderator_a_client, in_review, city_b):
    other = make_programme(city_b, title="Бюджет Чернівців")
    html = moderator_a_client.get(
        reverse("admin:initiatives_programme_changelist")
    ).content.decode()
    assert in_review.title in html and other.title not in html


def test_city_admin_creates_a_programme_with_categories(client, city_admin_a, city_a):
    client.force_login(city_admin_a)
    dates = {k: v.isoformat() for k, v in stage_dates("upcoming").items()}
    data = {
        "city": city_a.pk,
        "title": "Бюджет участі Луцька 2027",
        "slug": "lutsk-2027",
        "year": 2027,
        "description": "",
        "total_budget": "1000000",
        "max_votes": 5,
        "min_voter_age": 16,
        "residents_only": "on",
        "winner_rule": "category_greedy",
        **dates,
        "categories-TOTAL_FORMS": "2",
        "categories-INITIAL_FORMS": "0",
        "categories-MIN_NUM_FORMS": "0",
        "categories-MAX_NUM_FORMS": "1000",
        "categories-0-name": "Малі",
        "categories-0-budget": "400000",
        "categories-0-max_project_cost": "100000",
        "categories-0-position": "1",
        "categories-1-name": "Великі",
        "categories-1-budget": "700000",
        "categories-1-max_project_cost": "500000",
        "categories-1-position": "2",
        "districts-TOTAL_FORMS": "0",
        "districts-INITIAL_FORMS": "0",
        "districts-MIN_NUM_FORMS": "0",
        "districts-MAX_NUM_FORMS": "1000",
    }
    url = reverse("admin:initiatives_programme_add")
    response = client.post(url, data)
    assert response.status_code == 200, "categories over the total budget are refused"
    assert not Programme.objects.exists()
    data["categories-1-budget"] = "600000"
    response = client.post(url, data)
    assert response.status_code == 302
    programme = Programme.objects.get()
    assert programme.categories.count() == 2
    assert AuditEntry.objects.filter(action="initiatives.programme.created").exists()


@pytest.fixture
def tallied(city_a):
    programme = make_programme(city_a, stage="voting", max_votes=2)
    category = make_category(programme, budget="1000", max_cost="1000")
    winner = make_initiative(programme, category, cost="800", title="Переможець")
    voter = make_voter(city_a)
    vote_cast(voter=voter, initiative=winner, notify=True)
    for field, value in stage_dates("results").items():
        setattr(programme, field, value)
    programme.save()
    return programme, winner, voter


def test_staff_run_the_tally_from_the_admin(
    moderator_a_client, tallied, django_capture_on_commit_callbacks
):
    programme, _, _ = tallied
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_a_client.post(
            reverse("admin:initiatives_programme_changelist"),
            {"action": "run_tally", "_selected_action": [programme.pk]},
        )
    assert response.status_code == 302
    assert ResultSnapshot.objects.filter(programme=programme).count() == 1
    assert AuditEntry.objects.filter(action="initiatives.programme.tally_requested").exists()


def test_staff_publish_results_then_report_implementation(
    moderator_a_client, moderator_a, tallied, django_capture_on_commit_callbacks
):
    programme, winner, voter = tallied
    snapshot = tally_programme(programme_id=programme.pk)
    with django_capture_on_commit_callbacks(execute=True):
        moderator_a_client.post(
            reverse("admin:initiatives_resultsnapshot_changelist"),
            {"action": "publish", "_selected_action": [snapshot.pk]},
        )
    snapshot.refresh_from_db()
    assert snapshot.published_at is not None and snapshot.published_by == moderator_a
    winner.refresh_from_db()
    assert winner.status == Initiative.Status.FUNDED
    url = reverse("admin:initiatives_initiative_report", args=[winner.pk])
    today = timezone.localdate().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_a_client.post(
            url, {"status": "done", "happened_on": today, "text": "Сквер відкрито."}
        )
    assert response.status_code == 302
    assert ImplementationUpdate.objects.get().status == "done"
    assert (
        AuditEntry.objects.filter(action="initiatives.initiative.implementation_updated").count()
        == 1
    )
    done = OutboundEmail.objects.filter(key__startswith="initiatives:done:")
    assert list(done.values_list("to", flat=True)) == [voter.email]


def test_bad_implementation_update_is_refused_with_errors(moderator_a_client, tallied):
    _, winner, _ = tallied
    url = reverse("admin:initiatives_initiative_report", args=[winner.pk])
    response = moderator_a_client.post(url, {"status": "done", "happened_on": "", "text": ""})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = moderator_a_client.post(
        url, {"status": "done", "happened_on": "2027-01-01", "text": "x"}
    )
    assert response.status_code == 200, "not funded yet: refused"
    assert not ImplementationUpdate.objects.exists()


def test_clerk_of_another_city_cannot_publish_through_the_admin(client, moderator_b, tallied):
    programme, _, _ = tallied
    snapshot = tally_programme(programme_id=programme.pk)
    client.force_login(moderator_b)
    client.post(
        reverse("admin:initiatives_resultsnapshot_changelist"),
        {"action": "publish", "_selected_action": [snapshot.pk]},
    )
    snapshot.refresh_from_db()
    assert snapshot.published_at is None
