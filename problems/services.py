"""Problem-report workflows: filing, the staff's status changes, "me too", following,
moderation (hiding), "is it fixed?" and photo processing.

Every status change goes through `report_transition`: one conditional UPDATE (the row must
still be in the state the clerk saw) and an audit entry in the same transaction, then an
e-mail to every follower through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opencity import images, notifications
from opencity.cities import access
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.services import audit, notify_user, queue_email
from opencity.core.transitions import transition
from opencity.queue import enqueue_on_commit
from opencity.workdays import add_working_days
from problems import conf, notices, pages, photos
from problems.models import Category, Follow, Photo, Report, Support

logger = logging.getLogger(__name__)

Status = Report.Status
STAFF_ROLES = access.ALL_ROLES

#: Which status a report may move to from which; "done → in progress" is the reopening.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NEW: (
        Status.ACCEPTED,
        Status.IN_PROGRESS,
        Status.DONE,
        Status.REJECTED,
        Status.DUPLICATE,
    ),
    Status.ACCEPTED: (Status.IN_PROGRESS, Status.DONE, Status.REJECTED, Status.DUPLICATE),
    Status.IN_PROGRESS: (Status.DONE, Status.REJECTED, Status.DUPLICATE),
    Status.DONE: (Status.IN_PROGRESS,),
    Status.REJECTED: (),
    Status.DUPLICATE: (),
}


# --- filing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewReport:
    city: City
    category: Category
    title: str
    description: str
    lat: float | None
    lon: float | None
    address: str
    show_name: bool = False


def answer_due_for(category: Category, filed: datetime) -> date:
    days = category.department.answer_working_days if category.department_id else None
    return add_working_days(timezone.localdate(filed), days or conf.DEFAULT_ANSWER_WORKING_DAYS)


def report_file(
    *,
    data: NewReport,
    reporter=None,
    uploads: Sequence[UploadedFile] = (),
    source: str = Report.Source.WEB,
    api_app=None,
    contact_email: str = "",
    contact_name: str = "",
) -> Report:
    """Record a report, its photos (originals in private storage) and the reporter's follow.
    Atomic. Thumbnails are made by a task queued after commit. Callers validate the input
    (forms); the category must belong to the city."""
    if data.category.city_id != data.city.pk:
        raise Refused(
            _("This category does not belong to the chosen city."),
            code="category",
            field="category",
        )
    now = timezone.now()
    public_name = reporter.public_name if (reporter and data.show_name) else ""
    with transaction.atomic():
        report = Report.objects.create(
            city=data.city,
            category=data.category,
            department_id=data.category.department_id,
            reporter=reporter,
            public_name=public_name,
            contact_email=contact_email,
            contact_name=contact_name,
            title=data.title,
            description=data.description,
            lat=data.lat,
            lon=data.lon,
            address=data.address,
            source=source,
            api_app=api_app,
            created_at=now,
            answer_due=answer_due_for(data.category, now),
        )
        for upload in uploads:
            photo_add(report=report, upload=upload)
        if reporter is not None and notifications.auto_follows(reporter):
            Follow.objects.create(report=report, user=reporter)
        audit(
            obj=report,
            action="problems.report.filed",
            actor=reporter,
            city=data.city,
            to_state=Status.NEW,
            data={"source": source, "category": data.category.pk},
        )
        pages.report_changed(report.pk, data.city.pk)
        department = data.category.department
        if department is not None and department.email:
            queue_email(
                key=f"problems:new:{report.pk}",
                to=department.email,
                template="problem_new_for_department",
                context={"report": report},
                city=data.city,
            )
    return report


def photo_add(*, report: Report, upload: UploadedFile) -> Photo:
    """Keep the original privately and queue the public versions. Validate first
    (`photos.check_upload`)."""
    from problems.tasks import process_photo

    photo = Photo(report=report)
    images.store_original(photo, upload)
    photo.save()
    enqueue_on_commit(process_photo, photo.pk)
    return photo


def photo_process(photo_id: int) -> bool:
    """Make the metadata-free public image and thumbnail of one photo. Idempotent: a photo
    already processed is left alone; concurrent runs keep one result."""
    if not images.process_photo(Photo, photo_id, photos.limits()):
        return False
    photo = Photo.objects.filter(pk=photo_id).values("report_id", "report__city_id").first()
    if photo is not None:  # the public copy is there: the report's pages show it
        pages.report_changed(photo["report_id"], photo["report__city_id"])
    return True


def pending_photo_ids(older_than: timedelta = timedelta(minutes=5)) -> list[int]:
    return images.pending_photo_ids(Photo, older_than)


# --- staff: the one transition function ---------------------------------------------------


def _require_staff(report: Report, actor) -> None:
    if not access.can_act_on_city(actor, report.city_id, STAFF_ROLES):
        raise PermissionDenied


def report_transition(
    report: Report,
    *,
    to: str,
    actor,
    reply: str = "",
    reason: str = "",
    duplicate_of: Report | None = None,
    action: str = "",
) -> Report:
    """Move `report` to `to` if it is still in the status the caller saw. Atomic; audited;
    followers are e-mailed through the outbox (one e-mail per change per person).

    The conditional UPDATE (WHERE status = old) means two clerks acting at once cannot both
    succeed: the second gets Refused and nothing changes.
    """
    old = report.status
    if to not in TRANSITIONS.get(old, ()):
        raise Refused(_("A report cannot move from this status to that one."), code="status")
    reply, reason = reply.strip(), reason.strip()
    if to == Status.REJECTED and not reason:
        raise Refused(
            _("Give the reason for rejecting the report."), code="reason_required", field="reason"
        )
    if to == Status.DUPLICATE:
        if duplicate_of is None or duplicate_of.pk == report.pk:
            raise Refused(
                _("Choose the report this one duplicates."),
                code="duplicate_of_required",
                field="duplicate_of",
            )
        if duplicate_of.city_id != report.city_id or duplicate_of.status == Status.DUPLICATE:
            raise Refused(
                _("The original must be another open report of the same city."),
                code="duplicate_of_invalid",
                field="duplicate_of",
            )
    now = timezone.now()
    fields: dict = {}
    if reply:
        fields["answer_text"] = reply
    if to == Status.ACCEPTED and report.accepted_at is None:
        fields["accepted_at"] = now
    if to in Report.CLOSED_STATUSES:
        fields["closed_at"] = now
    if to == Status.REJECTED:
        fields["rejection_reason"] = reason
    if to == Status.DUPLICATE:
        fields["duplicate_of"] = duplicate_of
    if old == Status.DONE:
        fields["closed_at"] = None
    if report.answered_at is None and (reply or to in Report.CLOSED_STATUSES) and actor:
        fields["answered_at"] = now
        fields["answered_on_time"] = bool(
            report.answer_due is None or timezone.localdate(now) <= report.answer_due
        )
    with transaction.atomic():
        # Claimed with a conditional UPDATE from the status the clerk saw, and audited.
        entry = transition(
            report,
            to=to,
            allowed_from=[old],
            action=action or f"problems.report.{to}",
            actor=actor,
            city=report.city_id,
            reason=reason,
            data={"reply": reply, "duplicate_of": duplicate_of.pk if duplicate_of else None},
            refused=_("Someone changed this report in the meantime."),
            **fields,
        )
        if to == Status.DUPLICATE:
            _move_followers(report, duplicate_of)
            pages.report_changed(duplicate_of.pk, duplicate_of.city_id)
        pages.report_changed(report.pk, report.city_id)
        _notify_followers(report, entry.pk)
    return report


def staff_set_status(
    *, report: Report, actor, to: str, reply: str = "", reason: str = "", duplicate_of=None
) -> Report:
    """A clerk of the report's city changes its status (the admin's status form)."""
    _require_staff(report, actor)
    return report_transition(
        report, to=to, actor=actor, reply=reply, reason=reason, duplicate_of=duplicate_of
    )


def report_assign(*, report: Report, actor, department) -> Report:
    """Send the report to another department of its city (staff only). The answer due date
    stays: the resident's clock runs from filing. Audited; shown on the timeline."""
    _require_staff(report, actor)
    if department.city_id != report.city_id:
        raise Refused(_("Choose a department of this city."), code="department", field="department")
    old = report.department_id
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(department=department, updated_at=timezone.now())
        report.department = department
        pages.report_changed(report.pk, report.city_id)
        audit(
            obj=report,
            action="problems.report.assigned",
            actor=actor,
            city=report.city_id,
            data={"from": old, "to": department.pk, "department": department.name_uk},
        )
    return report


def _move_followers(duplicate: Report, original: Report) -> None:
    """The duplicate's followers and "me too" people now follow the original."""
    Follow.objects.bulk_create(
        [
            Follow(report=original, user_id=user_id)
            for user_id in duplicate.follows.values_list("user_id", flat=True)
        ],
        ignore_conflicts=True,
    )
    Support.objects.bulk_create(
        [
            Support(report=original, user_id=user_id)
            for user_id in duplicate.supports.values_list("user_id", flat=True)
        ],
        ignore_conflicts=True,
    )


def _notify_followers(report: Report, change_id: int) -> None:
    """Followers who want status changes at once are mailed here; the others (daily or
    weekly digest, or never: their choice on /account/notifications/) through the event."""
    followers = list(Follow.objects.filter(report=report).select_related("user"))
    later = notifications.not_immediate([f.user_id for f in followers], "problems.status")
    told = []
    for follow in followers:
        if not follow.user.is_active or not follow.user.email or follow.user_id in later:
            continue
        told.append(follow.user_id)
        notify_user(
            user=follow.user,
            key=f"problems:status:{report.pk}:{change_id}",
            template="problem_status",
            context={"report": report},
            city=report.city,
        )
    notices.status_changed(report, change_id, told=told)


def report_hide_text(*, report: Report, actor, reason: str, hidden: bool = True) -> Report:
    """Hide (or show again) a report's title and description from the public. The text is
    kept for audit. Audited."""
    _require_staff(report, actor)
    if not reason.strip():
        raise Refused(_("Give the reason."), code="reason_required", field="reason")
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(text_hidden=hidden)
        report.text_hidden = hidden
        pages.report_changed(report.pk, report.city_id)
        audit(
            obj=report,
            action="problems.report.text_hidden" if hidden else "problems.report.text_shown",
            actor=actor,
            city=report.city_id,
            reason=reason.strip(),
        )
    return report


def photo_hide(*, photo: Photo, actor, reason: str, hidden: bool = True) -> Photo:
    """Hide (or show again) one photo; the files are kept for audit. Audited."""
    _require_staff(photo.report, actor)
    if not reason.strip():
        raise Refused(_("Give the reason."), code="reason_required", field="reason")
    with transaction.atomic():
        Photo.objects.filter(pk=photo.pk).update(hidden=hidden)
        photo.hidden = hidden
        pages.report_changed(photo.report_id, photo.report.city_id)
        audit(
            obj=photo.report,
            action="problems.photo.hidden" if hidden else "problems.photo.shown",
            actor=actor,
            city=photo.report.city_id,
            reason=reason.strip(),
            data={"photo": photo.pk},
        )
    return photo


# --- citizens: me too, follow, is it fixed? -------------------------------------------------


def report_support(*, report: Report, user) -> bool:
    """ "Me too" (and follow, unless the person turned automatic follows off). One per
    person, enforced by the database: returns False if the person had already said it.
    Refused on a closed report."""
    if not report.is_open:
        raise Refused(_("This report is closed."), code="closed")
    try:
        with transaction.atomic():
            Support.objects.create(report=report, user=user)
            if notifications.auto_follows(user):  # unless turned off in the settings
                Follow.objects.get_or_create(report=report, user=user)
            pages.report_changed(report.pk, report.city_id)
    except IntegrityError:
        return False
    return True


def report_follow(*, report: Report, user, follow: bool = True) -> None:
    if follow:
        Follow.objects.get_or_create(report=report, user=user)
    else:
        Follow.objects.filter(report=report, user=user).delete()


# Reports asked per run of ask_if_fixed (the daily job runs again the next day).
ASK_BATCH = 1000


def ask_if_fixed(now: datetime | None = None) -> int:
    """E-mail "Is it fixed?" to the reporter of each report done four weeks ago. Idempotent:
    each report is claimed once with a conditional UPDATE before its e-mail is recorded."""
    now = now or timezone.now()
    due = (
        Report.objects.filter(
            status=Status.DONE,
            closed_at__lte=now - timedelta(days=conf.FIXED_CHECK_DAYS),
            fixed_asked_at__isnull=True,
            reporter__isnull=False,
        )
        .order_by("closed_at", "pk")  # oldest first
        .values_list("pk", flat=True)[:ASK_BATCH]
    )
    sent = 0
    for report_id in list(due):
        with transaction.atomic():
            claimed = Report.objects.filter(pk=report_id, fixed_asked_at__isnull=True).update(
                fixed_asked_at=now
            )
            if not claimed:
                continue
            report = Report.objects.select_related("reporter").get(pk=report_id)
            audit(obj=report, action="problems.report.fix_asked", city=report.city_id)
            pages.report_changed(report.pk, report.city_id)
            notify_user(
                user=report.reporter,
                key=f"problems:fixed-check:{report.pk}",
                template="problem_fixed_check",
                context={"report": report},
                city=report.city,
            )
            sent += 1
    return sent


def report_fixed_answer(*, report: Report, user, fixed: bool) -> Report:
    """The reporter answers "Is it fixed?" once per check. "No" reopens the report (done →
    in progress) the first time only; a report reopened before stays done with the answer
    "no" recorded (the page then suggests filing a new report). Atomic; audited."""
    if user is None or user.pk != report.reporter_id:
        raise PermissionDenied
    if report.status != Status.DONE or report.fixed_asked_at is None:
        raise Refused(_("This report is not waiting for your answer."), code="not_asked")
    answer = "yes" if fixed else "no"
    with transaction.atomic():
        claimed = Report.objects.filter(pk=report.pk, status=Status.DONE, fixed_answer="").update(
            fixed_answer=answer
        )
        if not claimed:
            raise Refused(_("You have already answered."), code="already_answered")
        report.fixed_answer = answer
        pages.report_changed(report.pk, report.city_id)
        audit(
            obj=report,
            action="problems.report.fix_answered",
            actor=user,
            city=report.city_id,
            data={"fixed": fixed},
        )
        if not fixed and report.reopened_at is None:
            now = timezone.now()
            Report.objects.filter(pk=report.pk).update(
                reopened_at=now, fixed_asked_at=None, fixed_answer=""
            )
            report.reopened_at, report.fixed_asked_at, report.fixed_answer = now, None, ""
            report_transition(
                report, to=Status.IN_PROGRESS, actor=user, action="problems.report.reopened"
            )
    return report
