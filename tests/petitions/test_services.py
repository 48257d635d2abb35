"""Lifecycle: every transition allowed and refused, audit entries, rules, deadlines, e-mails."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from opencity.core import Refused
from opencity.core.models import OutboundEmail
from opencity.core.services import audit_trail
from opencity.workdays import add_working_days
from petitions import services
from petitions.models import Petition, PetitionRules, Signature
from tests.factories import make_user
from tests.petitions.factories import make_petition, make_rules, sign_many

Status = Petition.Status
pytestmark = pytest.mark.django_db


def audit_actions(petition):
    return list(
        audit_trail(petition).order_by("id").values_list("action", "from_state", "to_state")
    )


def emails(prefix):
    return set(OutboundEmail.objects.filter(key__startswith=prefix).values_list("key", "to"))


def test_filing_submits_with_a_two_working_day_deadline_and_tells_author_and_moderators(
    citizen, city_a, moderator_a, moderator_b
):
    make_rules(city_a)
    petition = services.petition_file(
        author=citizen, city=city_a, title="Новий сквер", text="Текст петиції " * 10
    )
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED
    assert petition.author_name == citizen.full_name
    assert petition.moderation_due == add_working_days(timezone.localdate(), 2)
    assert audit_actions(petition) == [("petitions.petition.submitted", "draft", "submitted")]
    assert emails(f"petition:{petition.pk}:") == {
        (f"petition:{petition.pk}:received:u{citizen.pk}", citizen.email),
        (f"petition:{petition.pk}:staff_new:u{moderator_a.pk}", moderator_a.email),
    }


def test_publish_copies_the_rules_signs_for_the_author_and_keeps_the_rules(
    city_a, moderator_a, django_capture_on_commit_callbacks
):
    make_rules(city_a, threshold=300, collection_days=60, respond_working_days=7)
    petition = make_petition(city_a, status=Status.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_publish(petition=petition, actor=moderator_a)
    PetitionRules.objects.filter(city=city_a).update(threshold=5, collection_days=10)
    petition.refresh_from_db()
    assert petition.status == Status.COLLECTING
    assert (petition.threshold, petition.collection_days, petition.respond_working_days) == (
        300,
        60,
        7,
    )
    assert petition.collection_ends_at - petition.published_at == timedelta(days=60)
    assert Signature.objects.filter(petition=petition, user=petition.author).exists()
    assert petition.signature_count == 1  # the tally ran on commit
    assert audit_actions(petition)[-1] == (
        "petitions.petition.published",
        "submitted",
        "collecting",
    )
    assert OutboundEmail.objects.filter(
        key=f"petition:{petition.pk}:published:u{petition.author_id}"
    ).exists()


def test_a_city_without_rules_uses_the_defaults(city_a, moderator_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    services.petition_publish(petition=petition, actor=moderator_a)
    petition.refresh_from_db()
    assert (petition.threshold, petition.collection_days) == (300, 60)


def test_moderator_of_another_city_cannot_publish_or_reject(city_a, moderator_b):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    with pytest.raises(Refused) as publish:
        services.petition_publish(petition=petition, actor=moderator_b)
    with pytest.raises(Refused) as reject:
        services.petition_reject(petition=petition, actor=moderator_b, ground="personal")
    assert publish.value.code == reject.value.code == "forbidden"
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED
    assert audit_actions(petition) == []


def test_only_the_author_submits_or_withdraws(city_a, citizen):
    petition = make_petition(city_a, status=Status.DRAFT)
    other = make_user()
    with pytest.raises(Refused) as submit:
        services.petition_submit(petition=petition, actor=other)
    with pytest.raises(Refused) as withdraw:
        services.petition_withdraw(petition=petition, actor=other)
    assert submit.value.code == withdraw.value.code == "forbidden"
    petition.refresh_from_db()
    assert petition.status == Status.DRAFT


@pytest.mark.parametrize("ground", Petition.RejectionGround.values)
def test_reject_records_each_ground_of_the_law(city_a, moderator_a, ground):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    services.petition_reject(petition=petition, actor=moderator_a, ground=ground, comment="Див.")
    petition.refresh_from_db()
    assert (petition.status, petition.rejection_ground) == (Status.REJECTED, ground)
    entry = audit_trail(petition).get()
    assert entry.reason.startswith(ground) and entry.actor == moderator_a
    mail = OutboundEmail.objects.get(key=f"petition:{petition.pk}:rejected:u{petition.author_id}")
    with translation.override(petition.author.preferred_language):
        label = str(Petition.RejectionGround(ground).label)
    assert label in mail.body_text


def test_reject_without_a_known_ground_is_refused(city_a, moderator_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    with pytest.raises(ValueError):
        services.petition_reject(petition=petition, actor=moderator_a, ground="boring")
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED


def test_database_refuses_a_rejected_petition_without_ground(city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Petition.objects.filter(pk=petition.pk).update(status=Status.REJECTED)


def test_database_refuses_a_collection_period_over_90_days(city_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        PetitionRules.objects.create(city=city_a, threshold=100, collection_days=91)


def _call(name, petition, actor):
    kwargs = {"petition": petition, "actor": actor}
    if name == "petition_reject":
        kwargs.update(ground="personal", comment="")
    if name == "petition_respond":
        kwargs.update(decision="supported", text="Підтримано.")
    return getattr(services, name)(**kwargs)


TRANSITIONS = {
    "petition_submit": ({Status.DRAFT}, Status.SUBMITTED, "author"),
    "petition_withdraw": ({Status.DRAFT, Status.SUBMITTED}, Status.WITHDRAWN, "author"),
    "petition_publish": ({Status.SUBMITTED}, Status.COLLECTING, "staff"),
    "petition_reject": ({Status.SUBMITTED}, Status.REJECTED, "staff"),
    "petition_respond": ({Status.REACHED}, Status.ANSWERED, "staff"),
}
CASES = [
    (name, status, status in allowed)
    for name, (allowed, _to, _who) in TRANSITIONS.items()
    for status in Status.values
]


@pytest.mark.parametrize(("name", "status", "allowed"), CASES)
def test_every_transition_is_allowed_only_from_its_states(
    city_a, citizen, moderator_a, name, status, allowed
):
    allowed_from, to, who = TRANSITIONS[name]
    petition = make_petition(city_a, author=citizen, status=status)
    actor = citizen if who == "author" else moderator_a
    if allowed:
        _call(name, petition, actor)
        petition.refresh_from_db()
        assert petition.status == to
        assert audit_actions(petition)[-1][1:] == (status, to)
    else:
        with pytest.raises(Refused) as refused:
            _call(name, petition, actor)
        assert refused.value.code == "status"
        petition.refresh_from_db()
        assert petition.status == status
        assert audit_actions(petition) == []


def test_respond_records_on_time_and_tells_author_and_opted_in_signers(
    city_a, moderator_a, django_capture_on_commit_callbacks
):
    petition = make_petition(city_a, status=Status.REACHED)
    keen, quiet = make_user(), make_user()
    Signature.objects.create(petition=petition, user=keen, notify_on_answer=True)
    Signature.objects.create(petition=petition, user=quiet, notify_on_answer=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_respond(
            petition=petition, actor=moderator_a, decision="partly", text="Частково підтримано."
        )
    petition.refresh_from_db()
    assert petition.answered_on_time is True and petition.signers_notified_at
    keys = set(OutboundEmail.objects.values_list("key", flat=True))
    assert f"petition:{petition.pk}:answered:u{petition.author_id}" in keys
    assert f"petition:{petition.pk}:answered-signer:u{keen.pk}" in keys
    assert f"petition:{petition.pk}:answered-signer:u{quiet.pk}" not in keys
    # Running the fan-out again sends nothing new.
    Petition.objects.filter(pk=petition.pk).update(signers_notified_at=None)
    assert services.notify_signers_answered(petition_id=petition.pk) == 0


def test_a_late_response_is_recorded_as_late(city_a, moderator_a):
    petition = make_petition(
        city_a, status=Status.REACHED, response_due=timezone.localdate() - timedelta(days=1)
    )
    services.petition_respond(
        petition=petition, actor=moderator_a, decision="supported", text="Так"
    )
    petition.refresh_from_db()
    assert petition.answered_on_time is False


# --- tally and threshold -----------------------------------------------------------------


def test_tally_counts_rows_and_marks_the_threshold_once(city_a, responder_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=3)
    sign_many(petition, 3)
    assert services.petition_tally(petition_id=petition.pk) == 3
    assert services.petition_tally(petition_id=petition.pk) == 3
    petition.refresh_from_db()
    assert petition.status == Status.REACHED
    assert petition.response_due == add_working_days(timezone.localdate(), 10)
    assert [a for a in audit_actions(petition) if a[0] == "petitions.petition.reached"] == [
        ("petitions.petition.reached", "collecting", "reached")
    ]
    assert emails(f"petition:{petition.pk}:reached") == {
        (f"petition:{petition.pk}:reached:u{petition.author_id}", petition.author.email)
    }
    assert emails(f"petition:{petition.pk}:staff_reached") == {
        (f"petition:{petition.pk}:staff_reached:u{responder_a.pk}", responder_a.email)
    }


def test_tally_below_threshold_changes_only_the_count(city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=5)
    sign_many(petition, 4)
    services.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert (petition.status, petition.signature_count) == (Status.COLLECTING, 4)


def test_an_older_tally_never_overwrites_a_newer_count(city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=50)
    sign_many(petition, 2)
    later = timezone.now() + timedelta(seconds=5)
    Petition.objects.filter(pk=petition.pk).update(signature_count=1, counted_at=later)
    services.petition_tally(petition_id=petition.pk)  # started earlier, but counted more
    petition.refresh_from_db()
    assert petition.signature_count == 2
    sign_many(petition, 1)
    Petition.objects.filter(pk=petition.pk).update(signature_count=3, counted_at=later)
    Signature.objects.filter(petition=petition).first().delete()
    services.petition_tally(petition_id=petition.pk)  # started earlier, counted less
    petition.refresh_from_db()
    assert petition.signature_count == 3


# --- beat jobs ----------------------------------------------------------------------------


def test_close_expired_closes_below_threshold_once(city_a):
    ended = timezone.now() - timedelta(hours=1)
    petition = make_petition(
        city_a, status=Status.COLLECTING, threshold=5, collection_ends_at=ended
    )
    fresh = make_petition(
        city_a, status=Status.COLLECTING, collection_ends_at=timezone.now() - timedelta(minutes=1)
    )
    assert services.close_expired() == 1
    assert services.close_expired() == 0
    petition.refresh_from_db()
    fresh.refresh_from_db()
    assert petition.status == Status.CLOSED
    assert fresh.status == Status.COLLECTING  # within the grace period
    assert audit_actions(petition) == [("petitions.petition.closed", "collecting", "closed")]
    assert (
        OutboundEmail.objects.filter(key__startswith=f"petition:{petition.pk}:closed").count() == 1
    )


def test_close_expired_recounts_first_so_a_petition_that_reached_is_not_closed(city_a):
    ended = timezone.now() - timedelta(hours=1)
    petition = make_petition(
        city_a, status=Status.COLLECTING, threshold=2, collection_ends_at=ended
    )
    sign_many(petition, 2)  # signed in time, never tallied
    services.close_expired()
    petition.refresh_from_db()
    assert petition.status == Status.REACHED


def test_overdue_moderation_and_response_remind_staff_once(city_a, moderator_a, responder_a):
    yesterday = timezone.localdate() - timedelta(days=1)
    waiting = make_petition(city_a, status=Status.SUBMITTED, moderation_due=yesterday)
    reached = make_petition(city_a, status=Status.REACHED, response_due=yesterday)
    on_time = make_petition(city_a, status=Status.SUBMITTED, moderation_due=timezone.localdate())
    assert services.flag_overdue() == 2
    assert services.flag_overdue() == 0
    waiting.refresh_from_db()
    on_time.refresh_from_db()
    assert waiting.moderation_overdue_at and not on_time.moderation_overdue_at
    assert emails(f"petition:{waiting.pk}:staff_overdue_moderation") == {
        (f"petition:{waiting.pk}:staff_overdue_moderation:u{moderator_a.pk}", moderator_a.email)
    }
    keys = {k for k, _ in emails(f"petition:{reached.pk}:staff_overdue_response")}
    assert f"petition:{reached.pk}:staff_overdue_response:u{responder_a.pk}" in keys


# --- reports --------------------------------------------------------------------------------


def test_city_activity_counts_per_city_in_the_range(city_a, city_b):
    today = timezone.localdate()
    make_petition(city_a, status=Status.SUBMITTED, submitted_at=timezone.now())
    make_petition(city_a, status=Status.ANSWERED, answered_on_time=True)
    make_petition(city_a, status=Status.ANSWERED, answered_on_time=False)
    make_petition(city_b, status=Status.SUBMITTED, submitted_at=timezone.now() - timedelta(days=40))
    result = services_city_activity(today - timedelta(days=7), today)
    assert result[city_a.pk]["answered_on_time"] == 1
    assert result[city_a.pk]["answered_late"] == 1
    assert result[city_a.pk]["reached_threshold"] == 2
    assert result[city_a.pk]["published"] == 2
    assert result[city_a.pk]["filed"] == 3
    assert city_b.pk not in result


def services_city_activity(date_from: date, date_to: date):
    from petitions.selectors import city_activity

    return city_activity(date_from, date_to)


def test_home_summary_and_city_petitions(city_a, django_assert_max_num_queries):
    big = make_petition(city_a, status=Status.COLLECTING, signature_count=9)
    make_petition(city_a, status=Status.COLLECTING, signature_count=2)
    make_petition(city_a, status=Status.DRAFT)
    from petitions.selectors import home_summary, open_petitions_for_city

    with django_assert_max_num_queries(2):
        summary = home_summary()
    assert summary["collecting"] == 2 and summary["signatures"] == 11
    assert open_petitions_for_city(city_a, limit=1) == [big]


def test_deadlines_skip_weekends_and_holidays(citizen, city_a, moderator_a, monkeypatch):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    kyiv = ZoneInfo("Europe/Kyiv")
    # Wednesday 6 January 2021: 7 and 8 January were days off, then a weekend.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2021, 1, 6, 12, 0, tzinfo=kyiv))
    make_rules(city_a, threshold=1, collection_days=30)
    petition = services.petition_file(
        author=citizen, city=city_a, title="Ковзанка в парку", text="Залити ковзанку. " * 5
    )
    assert petition.moderation_due == date(2021, 1, 12)
    services.petition_publish(petition=petition, actor=moderator_a)
    services.petition_tally(petition_id=petition.pk)  # the author's signature reaches 1
    petition.refresh_from_db()
    assert petition.status == Status.REACHED
    # Ten working days from 6 January 2021: 11-15, 18-22 January.
    assert petition.response_due == date(2021, 1, 22)
