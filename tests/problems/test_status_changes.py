"""Status changes of problem reports as the people involved see them: the answer's deadline
on its last day, what a refused change says, the trimmed reply and reason in the e-mail, who
is e-mailed, the four-week "is it fixed?" boundary and the reporter's one answer (issue 21:
these are the behaviours the mutation run checks for problems/services.py). Messages are
compared with their translation in the active language, so a changed wording fails here."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext

from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from problems import services
from problems.models import Follow, Report, Support
from tests.factories import make_user
from tests.problems.factories import file_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(citizen, city_a, potholes):
    return file_report(city_a, potholes, citizen)


def _audits(report, action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_id=str(report.pk), action=action).order_by("id"))


def _numbered(text: str, report) -> bool:
    """The text names the report by its number (#12, or №12 in Ukrainian)."""
    return re.search(rf"[#№]\s?{report.pk}\b", text) is not None


def _mails(prefix: str) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(key__startswith=prefix).order_by("id"))


# --- the answer's deadline --------------------------------------------------------------------


def test_an_answer_on_the_due_date_is_on_time_and_the_day_after_is_late(
    city_a, potholes, citizen, moderator_a
):
    on_time, late = file_report(city_a, potholes, citizen), file_report(city_a, potholes, citizen)
    today = timezone.localdate()
    Report.objects.filter(pk=on_time.pk).update(answer_due=today)
    Report.objects.filter(pk=late.pk).update(answer_due=today - timedelta(days=1))
    for report in (on_time, late):
        report.refresh_from_db()
        services.staff_set_status(report=report, actor=moderator_a, to="accepted", reply="Їдемо")
        report.refresh_from_db()
        assert report.answered_at is not None
    assert on_time.answered_on_time is True
    assert late.answered_on_time is False


def test_a_report_without_a_due_date_is_answered_on_time(report, moderator_a):
    Report.objects.filter(pk=report.pk).update(answer_due=None)
    report.refresh_from_db()
    services.staff_set_status(report=report, actor=moderator_a, to="done")
    report.refresh_from_db()
    assert report.answered_at is not None and report.answered_on_time is True


def test_the_first_answer_counts_and_a_silent_step_is_no_answer(report, moderator_a):
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    report.refresh_from_db()
    assert report.answered_at is None, "accepting without a word answers nobody"
    assert report.accepted_at is not None and report.closed_at is None
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        services.staff_set_status(report=report, actor=moderator_a, to="in_progress", reply="Так")
    report.refresh_from_db()
    first = report.answered_at
    assert first is not None and report.answer_text == "Так"
    with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
        services.staff_set_status(report=report, actor=moderator_a, to="done", reply="Готово")
    report.refresh_from_db()
    assert report.answered_at == first and report.answered_on_time is True
    assert report.answer_text == "Готово" and report.closed_at is not None
    assert report.accepted_at is not None


def test_a_change_without_an_actor_answers_nobody(report):
    services.report_transition(report, to="in_progress", actor=None, reply="Автоматично")
    report.refresh_from_db()
    assert report.status == "in_progress" and report.answered_at is None
    assert report.accepted_at is None, "only accepting sets the acceptance time"


# --- refusals ---------------------------------------------------------------------------------


def test_a_closed_report_cannot_move_and_says_so(report, moderator_a):
    services.staff_set_status(report=report, actor=moderator_a, to="rejected", reason="Не наше")
    with pytest.raises(Refused) as refused:
        services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    assert refused.value.code == "status"
    assert str(refused.value) == gettext("A report cannot move from this status to that one.")
    assert Report.objects.get(pk=report.pk).status == "rejected"


def test_a_stale_change_names_what_happened(report, moderator_a):
    stale = Report.objects.get(pk=report.pk)
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    with pytest.raises(Refused) as refused:
        services.staff_set_status(report=stale, actor=moderator_a, to="done")
    assert str(refused.value) == gettext("Someone changed this report in the meantime.")


def test_a_clerk_of_another_city_cannot_change_the_status(report, moderator_b):
    with pytest.raises(PermissionDenied):
        services.staff_set_status(report=report, actor=moderator_b, to="accepted")
    assert Report.objects.get(pk=report.pk).status == "new"
    assert not _audits(report, "problems.report.accepted")


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(report, moderator_a, reason):
    with pytest.raises(Refused) as refused:
        services.staff_set_status(report=report, actor=moderator_a, to="rejected", reason=reason)
    assert (refused.value.code, refused.value.field) == ("reason_required", "reason")
    assert str(refused.value) == gettext("Give the reason for rejecting the report.")


def test_a_duplicate_needs_another_open_report_of_the_same_city(
    report, city_a, city_b, potholes, citizen, moderator_a
):
    from tests.problems.factories import make_area, make_tree

    make_area(city_b)
    other_city = file_report(city_b, make_tree(city_b, email="b@city.example.org")[2], citizen)
    already = file_report(city_a, potholes, citizen)
    original = file_report(city_a, potholes, citizen)
    services.staff_set_status(
        report=already, actor=moderator_a, to="duplicate", duplicate_of=original
    )

    required = gettext("Choose the report this one duplicates.")
    invalid = gettext("The original must be another open report of the same city.")
    for duplicate_of, code, message in (
        (None, "duplicate_of_required", required),
        (report, "duplicate_of_required", required),
        (other_city, "duplicate_of_invalid", invalid),
        (already, "duplicate_of_invalid", invalid),
    ):
        with pytest.raises(Refused) as refused:
            services.report_transition(
                report, to="duplicate", actor=moderator_a, duplicate_of=duplicate_of
            )
        assert (refused.value.code, refused.value.field) == (code, "duplicate_of")
        assert str(refused.value) == message
    assert Report.objects.get(pk=report.pk).status == "new"


# --- what is kept and who is told ---------------------------------------------------------------


def test_reply_and_reason_are_kept_trimmed_audited_and_mailed(report, citizen, moderator_a):
    services.staff_set_status(
        report=report,
        actor=moderator_a,
        to="rejected",
        reply="  Ділянка належить державі.  ",
        reason="  Не комунальна ділянка \n",
    )
    report.refresh_from_db()
    assert report.status == "rejected" and report.closed_at is not None
    assert report.rejection_reason == "Не комунальна ділянка"
    assert report.answer_text == "Ділянка належить державі."
    (entry,) = _audits(report, "problems.report.rejected")
    assert (entry.from_state, entry.to_state, entry.actor_id) == ("new", "rejected", moderator_a.pk)
    assert entry.reason == "Не комунальна ділянка"
    assert entry.city_id == report.city_id
    assert entry.data == {"reply": "Ділянка належить державі.", "duplicate_of": None}
    (mail,) = _mails(f"problems:status:{report.pk}:{entry.pk}:")
    assert mail.to == citizen.email
    assert _numbered(mail.subject, report)
    assert "Не комунальна ділянка" in mail.body_text
    assert "Ділянка належить державі." in mail.body_text
    assert report.get_absolute_url() in mail.body_text


def test_a_duplicate_tells_its_followers_which_report_they_now_follow(
    report, city_a, potholes, moderator_a
):
    reporter, supporter, both = make_user(), make_user(), make_user()
    duplicate = file_report(city_a, potholes, reporter)
    services.report_support(report=duplicate, user=supporter)
    services.report_support(report=duplicate, user=both)
    services.report_support(report=report, user=both)  # already follows the original too
    services.staff_set_status(
        report=duplicate, actor=moderator_a, to="duplicate", duplicate_of=report
    )
    (entry,) = _audits(duplicate, "problems.report.duplicate")
    assert entry.data == {"reply": "", "duplicate_of": report.pk}
    mails = _mails(f"problems:status:{duplicate.pk}:{entry.pk}:")
    assert sorted(m.to for m in mails) == sorted(u.email for u in (reporter, supporter, both))
    assert all(_numbered(m.body_text, report) for m in mails)
    followers = set(Follow.objects.filter(report=report).values_list("user_id", flat=True))
    assert {reporter.pk, supporter.pk, both.pk} <= followers
    supporters = set(Support.objects.filter(report=report).values_list("user_id", flat=True))
    assert supporters == {supporter.pk, both.pk}


def test_only_active_followers_with_an_address_are_mailed(report, citizen, moderator_a):
    gone, silent, neighbour = make_user(), make_user(), make_user()
    for user in (gone, silent, neighbour):
        services.report_follow(report=report, user=user)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    type(silent).objects.filter(pk=silent.pk).update(email="")
    services.staff_set_status(report=report, actor=moderator_a, to="in_progress")
    services.staff_set_status(report=report, actor=moderator_a, to="done")
    for action in ("problems.report.in_progress", "problems.report.done"):
        (entry,) = _audits(report, action)
        mails = _mails(f"problems:status:{report.pk}:{entry.pk}:")
        assert sorted(m.to for m in mails) == sorted([citizen.email, neighbour.email])


# --- "is it fixed?" ---------------------------------------------------------------------------


def _done(report, clerk, closed_at) -> None:
    services.staff_set_status(report=report, actor=clerk, to="done", reply="Зроблено")
    Report.objects.filter(pk=report.pk).update(closed_at=closed_at)


def test_is_it_fixed_is_asked_exactly_four_weeks_after_done(report, citizen, moderator_a):
    closed = timezone.now() - timedelta(days=10)
    _done(report, moderator_a, closed)
    four_weeks = closed + timedelta(days=28)
    assert services.ask_if_fixed(now=four_weeks - timedelta(seconds=1)) == 0
    assert not _mails(f"problems:fixed-check:{report.pk}")
    assert services.ask_if_fixed(now=four_weeks) == 1
    report.refresh_from_db()
    assert report.fixed_asked_at == four_weeks
    (mail,) = _mails(f"problems:fixed-check:{report.pk}")
    assert mail.to == citizen.email
    assert _numbered(mail.subject, report)
    assert report.title in mail.body_text and report.get_absolute_url() in mail.body_text
    (entry,) = _audits(report, "problems.report.fix_asked")
    assert entry.city_id == report.city_id


def test_is_it_fixed_is_asked_only_of_done_reports(report, city_a, potholes, citizen, moderator_a):
    long_ago = timezone.now() - timedelta(days=60)
    rejected = file_report(city_a, potholes, citizen)
    services.staff_set_status(report=rejected, actor=moderator_a, to="rejected", reason="Ні")
    Report.objects.filter(pk=rejected.pk).update(closed_at=long_ago)
    _done(report, moderator_a, long_ago)
    assert services.ask_if_fixed() == 1
    assert not _mails(f"problems:fixed-check:{rejected.pk}")
    assert _mails(f"problems:fixed-check:{report.pk}")


def test_is_it_fixed_is_not_asked_of_a_report_without_an_account(report, moderator_a):
    Report.objects.filter(pk=report.pk).update(reporter=None, contact_email="anon@example.org")
    report.refresh_from_db()
    _done(report, moderator_a, timezone.now() - timedelta(days=60))
    assert services.ask_if_fixed() == 0
    assert Report.objects.get(pk=report.pk).fixed_asked_at is None


def test_fixed_yes_keeps_the_report_done_and_is_recorded_once(report, citizen, moderator_a):
    _done(report, moderator_a, timezone.now() - timedelta(days=60))
    with pytest.raises(Refused) as refused:
        services.report_fixed_answer(report=report, user=citizen, fixed=True)
    assert refused.value.code == "not_asked", "not asked yet"
    assert str(refused.value) == gettext("This report is not waiting for your answer.")
    services.ask_if_fixed()
    report.refresh_from_db()
    services.report_fixed_answer(report=report, user=citizen, fixed=True)
    report.refresh_from_db()
    assert (report.status, report.fixed_answer, report.reopened_at) == ("done", "yes", None)
    (entry,) = _audits(report, "problems.report.fix_answered")
    assert entry.actor_id == citizen.pk and entry.data == {"fixed": True}
    assert entry.city_id == report.city_id
    with pytest.raises(Refused) as refused:
        services.report_fixed_answer(report=report, user=citizen, fixed=False)
    assert refused.value.code == "already_answered"
    assert str(refused.value) == gettext("You have already answered.")
    assert Report.objects.get(pk=report.pk).status == "done"


def test_fixed_no_reopens_the_report_and_tells_its_followers(report, citizen, moderator_a):
    neighbour = make_user()
    services.report_follow(report=report, user=neighbour)
    _done(report, moderator_a, timezone.now() - timedelta(days=60))
    services.ask_if_fixed()
    report.refresh_from_db()
    services.report_fixed_answer(report=report, user=citizen, fixed=False)
    report.refresh_from_db()
    assert report.status == "in_progress" and report.closed_at is None
    assert report.reopened_at is not None
    assert (report.fixed_asked_at, report.fixed_answer) == (None, "")
    (answer,) = _audits(report, "problems.report.fix_answered")
    assert answer.data == {"fixed": False}
    (entry,) = _audits(report, "problems.report.reopened")
    assert (entry.from_state, entry.to_state, entry.actor_id) == ("done", "in_progress", citizen.pk)
    mails = _mails(f"problems:status:{report.pk}:{entry.pk}:")
    assert sorted(m.to for m in mails) == sorted([citizen.email, neighbour.email])


def test_only_the_reporter_may_answer(report, moderator_a):
    _done(report, moderator_a, timezone.now() - timedelta(days=60))
    services.ask_if_fixed()
    report.refresh_from_db()
    for user in (None, make_user(), moderator_a):
        with pytest.raises(PermissionDenied):
            services.report_fixed_answer(report=report, user=user, fixed=False)
    assert Report.objects.get(pk=report.pk).status == "done"


def test_an_open_report_is_not_waiting_for_an_answer(report, citizen):
    Report.objects.filter(pk=report.pk).update(fixed_asked_at=timezone.now())
    report.refresh_from_db()
    with pytest.raises(Refused) as refused:
        services.report_fixed_answer(report=report, user=citizen, fixed=False)
    assert refused.value.code == "not_asked"
    assert Report.objects.get(pk=report.pk).status == "new"


# --- found by the full mutation run -----------------------------------------------------------


def test_a_status_mail_carries_the_city_and_the_event_spares_those_mailed(
    report, citizen, moderator_a
):
    from opencity.notifications.models import Event

    neighbour = make_user()
    services.report_follow(report=report, user=neighbour)
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    services.staff_set_status(report=report, actor=moderator_a, to="done")
    for action in ("problems.report.accepted", "problems.report.done"):
        (entry,) = _audits(report, action)
        mails = _mails(f"problems:status:{report.pk}:{entry.pk}:")
        assert {m.city_id for m in mails} == {report.city_id}
        # One event per change for the core's followers, not to those already mailed.
        event = Event.objects.get(key=f"problems:status:{report.pk}:{entry.pk}")
        assert sorted(event.told) == sorted([citizen.pk, neighbour.pk])
    assert Event.objects.filter(kind="problems.status").count() == 2


def test_is_it_fixed_mails_carry_the_city_and_each_due_report_is_asked(
    city_a, potholes, citizen, moderator_a
):
    long_ago = timezone.now() - timedelta(days=60)
    due = [file_report(city_a, potholes, citizen) for _ in range(2)]
    recent, still_open = (
        file_report(city_a, potholes, citizen),
        file_report(city_a, potholes, citizen),
    )
    for report in due:
        _done(report, moderator_a, long_ago)
    _done(recent, moderator_a, timezone.now() - timedelta(days=3))
    assert services.ask_if_fixed() == 2
    for report in due:
        (mail,) = _mails(f"problems:fixed-check:{report.pk}")
        assert mail.city_id == report.city_id
    # The claim is per report: the recent and the open one are still to be asked later.
    assert Report.objects.get(pk=recent.pk).fixed_asked_at is None
    assert Report.objects.get(pk=still_open.pk).fixed_asked_at is None


def test_a_report_another_run_claimed_meanwhile_is_skipped_and_the_rest_asked(
    city_a, potholes, citizen, moderator_a, monkeypatch
):
    """Two beat runs at once: the second read the due list before the first claimed a
    report; it skips that one (no second e-mail or audit) and still asks the others."""
    long_ago = timezone.now() - timedelta(days=60)
    first, second = file_report(city_a, potholes, citizen), file_report(city_a, potholes, citizen)
    for report in (first, second):
        _done(report, moderator_a, long_ago)
    claimed_elsewhere = timezone.now() - timedelta(minutes=1)

    def due_then_claimed(ids):
        ids = list(ids)
        Report.objects.filter(pk=min(ids)).update(fixed_asked_at=claimed_elsewhere)
        return sorted(ids)

    monkeypatch.setattr(services, "list", due_then_claimed, raising=False)
    assert services.ask_if_fixed() == 1
    assert Report.objects.get(pk=first.pk).fixed_asked_at == claimed_elsewhere
    assert not _mails(f"problems:fixed-check:{first.pk}")
    assert not _audits(first, "problems.report.fix_asked")
    assert len(_mails(f"problems:fixed-check:{second.pk}")) == 1


def test_is_it_fixed_skips_reports_already_asked_however_many(
    city_a, potholes, citizen, moderator_a
):
    """A thousand reports asked earlier do not fill a run's batch: a new one is asked."""
    long_ago = timezone.now() - timedelta(days=60)
    asked = file_report(city_a, potholes, citizen)
    _done(asked, moderator_a, long_ago)
    Report.objects.filter(pk=asked.pk).update(fixed_asked_at=long_ago)
    row = {
        f.attname: getattr(Report.objects.get(pk=asked.pk), f.attname)
        for f in Report._meta.concrete_fields
        if not f.primary_key and f.name != "token"
    }
    Report.objects.bulk_create([Report(**row) for _ in range(999)])
    report = file_report(city_a, potholes, citizen)  # after the others, by id and on disk
    _done(report, moderator_a, long_ago)
    assert services.ask_if_fixed() == 1
    assert Report.objects.get(pk=report.pk).fixed_asked_at is not None


def test_the_answer_is_recorded_on_this_report_only_and_returned(
    report, city_a, potholes, citizen, moderator_a
):
    other = file_report(city_a, potholes, citizen)
    for each in (report, other):
        _done(each, moderator_a, timezone.now() - timedelta(days=60))
    services.ask_if_fixed()
    report.refresh_from_db()
    answered = services.report_fixed_answer(report=report, user=citizen, fixed=True)
    assert answered.fixed_answer == "yes"
    assert Report.objects.get(pk=other.pk).fixed_answer == ""
    other.refresh_from_db()
    reopened = services.report_fixed_answer(report=other, user=citizen, fixed=False)
    assert (reopened.status, reopened.fixed_answer, reopened.fixed_asked_at) == (
        "in_progress",
        "",
        None,
    )
    assert Report.objects.get(pk=report.pk).fixed_answer == "yes"
    # Reopening keeps the department's last answer: the reporter wrote none.
    assert Report.objects.get(pk=other.pk).answer_text == "Зроблено"


def test_an_answer_to_a_report_reopened_meanwhile_is_refused(report, citizen, moderator_a):
    _done(report, moderator_a, timezone.now() - timedelta(days=60))
    services.ask_if_fixed()
    report.refresh_from_db()
    stale = Report.objects.get(pk=report.pk)  # the page the reporter has open
    services.staff_set_status(report=report, actor=moderator_a, to="in_progress")
    with pytest.raises(Refused) as refused:
        services.report_fixed_answer(report=stale, user=citizen, fixed=True)
    assert refused.value.code == "already_answered"
    assert Report.objects.get(pk=report.pk).fixed_answer == ""


def test_a_step_without_a_reason_or_reply_records_none(report, moderator_a):
    services.staff_set_status(report=report, actor=moderator_a, to="accepted")
    services.report_transition(report, to="in_progress", actor=moderator_a)
    report.refresh_from_db()
    assert report.answer_text == "" and report.rejection_reason == ""
    for action in ("problems.report.accepted", "problems.report.in_progress"):
        (entry,) = _audits(report, action)
        assert entry.reason == "" and entry.data == {"reply": "", "duplicate_of": None}


def test_a_follower_who_chose_a_digest_is_not_mailed_at_once_and_the_rest_are(
    report, citizen, moderator_a
):
    from opencity.notifications.models import Pace, Preference

    later, neighbour = make_user(), make_user()
    for user in (later, neighbour):  # the digest reader follows first
        services.report_follow(report=report, user=user)
    Preference.objects.create(user=later, kind="problems.status", pace=Pace.DAILY)
    services.staff_set_status(report=report, actor=moderator_a, to="in_progress")
    (entry,) = _audits(report, "problems.report.in_progress")
    mails = _mails(f"problems:status:{report.pk}:{entry.pk}:")
    assert sorted(m.to for m in mails) == sorted([citizen.email, neighbour.email])
    assert not OutboundEmail.objects.filter(to=later.email).exists()  # the digest tells them


def test_reports_already_asked_never_crowd_out_one_not_yet_asked(
    report, citizen, moderator_a, monkeypatch
):
    """Each run takes ASK_BATCH reports: the ones asked before must not fill it."""
    closed = timezone.now() - timedelta(days=40)
    _done(report, moderator_a, closed)
    assert services.ask_if_fixed() == 1  # asked: it stays done, asked, four weeks old
    newer = file_report(report.city, report.category, citizen)
    _done(newer, moderator_a, closed + timedelta(days=1))
    monkeypatch.setattr(services, "ASK_BATCH", 1)
    assert services.ask_if_fixed() == 1
    assert len(_mails(f"problems:fixed-check:{newer.pk}")) == 1
    assert len(_mails(f"problems:fixed-check:{report.pk}")) == 1
