"""One way to refuse (opencity.core.Refused) and one way to change a status (transition())."""

from __future__ import annotations

import importlib
import threading

import pytest
from django import forms
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import RequestFactory
from django.utils import translation

from opencity.core import Refused
from opencity.core.models import AuditEntry
from opencity.core.services import ACTION_NAME, audit, audit_trail
from opencity.core.transitions import transition
from opencity.core.web import RefusedMiddleware, refusal_to_form
from petitions import services as petition_services
from petitions.models import Petition
from tests.factories import make_clerk, make_user
from tests.petitions.factories import make_petition

Status = Petition.Status


@pytest.mark.django_db
def test_a_transition_from_a_state_that_does_not_allow_it_is_refused_and_changes_nothing(
    city_a, moderator_a
):
    petition = make_petition(city_a, status=Status.DRAFT)
    with pytest.raises(Refused) as refused:
        transition(
            petition,
            allowed_from=[Status.SUBMITTED],
            to=Status.REJECTED,
            action="petitions.petition.rejected",
            actor=moderator_a,
        )
    assert refused.value.code == "status"
    petition.refresh_from_db()
    assert petition.status == Status.DRAFT
    assert not audit_trail(petition).exists()


@pytest.mark.django_db
def test_a_transition_sets_its_fields_and_audits_from_and_to(city_a, moderator_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    entry = transition(
        petition,
        allowed_from=[Status.SUBMITTED],
        to=Status.REJECTED,
        action="petitions.petition.rejected",
        actor=moderator_a,
        city=city_a,
        reason="obscene",
        rejection_ground="obscene",
    )
    petition.refresh_from_db()
    assert (petition.status, petition.rejection_ground) == (Status.REJECTED, "obscene")
    assert (entry.action, entry.from_state, entry.to_state, entry.actor, entry.city) == (
        "petitions.petition.rejected",
        Status.SUBMITTED,
        Status.REJECTED,
        moderator_a,
        city_a,
    )


@pytest.mark.django_db
def test_listeners_hear_each_transition_and_a_refused_one_is_not_heard(
    city_a, moderator_a, monkeypatch
):
    from opencity.core import transitions

    monkeypatch.setattr(transitions, "_listeners", transitions.defaultdict(list))
    heard = []
    transitions.on_transition(Petition, lambda obj, entry: heard.append((obj.pk, entry.action)))
    petition = make_petition(city_a, status=Status.SUBMITTED)
    with pytest.raises(Refused):
        transition(petition, allowed_from=[Status.DRAFT], to=Status.REJECTED,
                   action="petitions.petition.rejected", actor=moderator_a,
                   rejection_ground="obscene")  # fmt: skip
    assert heard == []
    transition(petition, allowed_from=[Status.SUBMITTED], to=Status.REJECTED,
               action="petitions.petition.rejected", actor=moderator_a,
                   rejection_ground="obscene")  # fmt: skip
    assert heard == [(petition.pk, "petitions.petition.rejected")]


@pytest.mark.django_db
def test_a_moderation_decision_rebuilds_the_cached_petition_lists(
    city_a, moderator_a, django_capture_on_commit_callbacks
):
    """petitions registers its page invalidation as a transition listener: publishing a
    petition shows it in the cached list at once."""
    from django.test import Client
    from django.urls import reverse

    petition = make_petition(city_a, status=Status.SUBMITTED, title="Лавки у парку біля школи")
    visitor = Client()
    assert "Лавки у парку" not in visitor.get(reverse("petitions:list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        petition_services.petition_publish(petition=petition, actor=moderator_a)
    assert "Лавки у парку" in visitor.get(reverse("petitions:list")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_of_two_clerks_publishing_one_petition_at_once_exactly_one_wins(city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    clerks = [make_clerk(city_a, "moderator") for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def publish(clerk):
        try:
            barrier.wait(timeout=10)
            petition_services.petition_publish(
                petition=Petition.objects.get(pk=petition.pk), actor=clerk
            )
            outcomes.append("published")
        except Refused as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(clerk,)) for clerk in clerks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["published", "status"]
    assert (
        AuditEntry.objects.filter(
            action="petitions.petition.published", object_id=str(petition.pk)
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_audit_refuses_an_action_name_that_is_not_app_object_verb(city_a):
    petition = make_petition(city_a)
    for bad in ("petition.publish", "initiative_accepted", "Petitions.petition.published"):
        with pytest.raises(ValueError, match="app.object.verb"):
            audit(obj=petition, action=bad)
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_data_migration_renames_old_audit_actions_to_app_object_verb(city_a):
    migration = importlib.import_module("opencity.core.migrations.0002_audit_action_names")
    petition = make_petition(city_a)
    for old in migration.RENAMED:
        AuditEntry.objects.create(
            content_type=ContentType.objects.get_for_model(petition),
            object_id=str(petition.pk),
            action=old,
            city=city_a,
        )
    migration.forwards(django_apps, None)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert actions == set(migration.RENAMED.values())
    assert all(ACTION_NAME.fullmatch(action) for action in actions)
    migration.backwards(django_apps, None)
    assert set(AuditEntry.objects.values_list("action", flat=True)) == set(migration.RENAMED)


class _CostForm(forms.Form):
    category = forms.CharField()
    title = forms.CharField()


def test_a_refusal_about_a_field_is_shown_on_that_field_and_keeps_what_was_typed():
    form = _CostForm({"category": "Парки", "title": "Лавки у сквері"})
    assert form.is_valid()
    refusal_to_form(form, Refused("Забагато для категорії.", code="over_max", field="category"))
    assert form.errors == {"category": ["Забагато для категорії."]}
    assert form["title"].value() == "Лавки у сквері"


def test_a_refusal_without_a_field_is_a_form_error():
    form = _CostForm({"category": "x", "title": "y"})
    form.is_valid()
    refusal_to_form(form, Refused("Ні.", code="stage"))
    assert form.non_field_errors() == ["Ні."]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "status"), [("stage", 400), ("status", 409)])
def test_a_refusal_no_view_caught_is_a_translated_4xx_page(code, status):
    request = RequestFactory().post("/")
    request.user = make_user()
    middleware = RefusedMiddleware(lambda r: None)
    with translation.override("uk"):
        response = middleware.process_exception(
            request, Refused("Голосування ще не почалося.", code=code)
        )
    assert response.status_code == status
    body = response.content.decode()
    assert "Голосування ще не почалося." in body
    assert "Зараз це неможливо" in body
