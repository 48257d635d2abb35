"""Academy workflows: registration with a waitlist, cancellation and promotion, reminders,
attendance, certificates, feedback and expert profiles.

Capacity is exact under any concurrency: registration, cancellation and promotion each lock
the session row (`SELECT … FOR UPDATE`) for the length of their short transaction, count the
seated registrations and only then insert or change one. Seats are a scarce shared resource,
so this one lock per session is deliberate; nothing else locks the session row.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta

from django import forms
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from academy import conf, notices
from academy.models import Certificate, Expert, Feedback, Registration, Session
from members.selectors import member_cities
from opencity import notifications
from opencity.accounts.models import User
from opencity.cities.models import City, StaffRole
from opencity.core import Refused
from opencity.core.services import audit, notify_user
from opencity.core.transitions import transition
from opencity.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

Status = Registration.Status


# --- registration ---------------------------------------------------------------------------
def _staff_city_ids(user: User) -> list[int]:
    return list(
        StaffRole.objects.filter(user=user).order_by("pk").values_list("city_id", flat=True)
    )


def member_city_staff_city_id(user: User, staff_city_ids: list[int] | None = None) -> int | None:
    """A member city where `user` holds a StaffRole (first by name), or None."""
    if staff_city_ids is None:
        staff_city_ids = _staff_city_ids(user)
    if not staff_city_ids:  # most people: no staff role, no membership query
        return None
    return (
        member_cities()
        .filter(pk__in=staff_city_ids)
        .order_by("name_uk")
        .values_list("pk", flat=True)
        .first()
    )


def represented_city_id(user: User) -> int | None:
    """Registration.city default: a member city they serve, any city they serve, home city."""
    staff_city_ids = _staff_city_ids(user)
    member_city_id = member_city_staff_city_id(user, staff_city_ids)
    if member_city_id is not None:
        return member_city_id
    return staff_city_ids[0] if staff_city_ids else user.home_city_id


def _check_can_register(session: Session, user: User | AnonymousUser, now: datetime) -> int | None:
    """Rules that do not depend on the seat count; returns the id of the city represented."""
    if not user.is_authenticated or not user.is_active:
        raise Refused(_("Please sign in to register."), code="sign_in")
    if session.is_cancelled:
        raise Refused(_("This session has been cancelled."), code="cancelled")
    if now >= session.registration_deadline:
        raise Refused(_("Registration for this session has closed."), code="closed")
    staff_city_ids = _staff_city_ids(user)
    member_city_id = member_city_staff_city_id(user, staff_city_ids)
    if session.in_priority_window(now) and member_city_id is None:
        local = timezone.localtime(session.priority_until)
        raise Refused(
            _(
                "Until %(date)s registration is open only to staff of the association's "
                "member cities. Please come back then."
            )
            % {"date": local.strftime("%d.%m.%Y %H:%M")},
            code="priority",
        )
    if member_city_id is not None:
        return member_city_id
    return staff_city_ids[0] if staff_city_ids else user.home_city_id


def register(
    *, session_id: int, user: User | AnonymousUser, now: datetime | None = None
) -> Registration:
    """Register `user` for a session: a seat if one is free, else the end of the waitlist.

    Atomic; capacity is never exceeded (the session row is locked while seats are counted).
    Nobody jumps the waitlist: while anyone waits, newcomers join the waitlist too.
    Raises Refused when a rule refuses (code "sign_in", "cancelled", "closed", "priority",
    "already"). Callers: the register view (signed-in user, rate-limited).
    """
    now = now or timezone.now()
    session = Session.objects.get(pk=session_id, course__is_published=True)
    city_id = _check_can_register(session, user, now)
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=session_id)
        if session.is_cancelled or now >= session.registration_deadline:
            raise Refused(_("Registration for this session has closed."), code="closed")
        counts = (
            Registration.objects.filter(session=session)
            .exclude(status=Status.CANCELLED)
            .aggregate(
                mine=Count("pk", filter=Q(user=user)),
                seated=Count("pk", filter=Q(status=Status.SEATED)),
                waiting=Count("pk", filter=Q(status=Status.WAITLISTED)),
                last_position=Max("waitlist_position"),
            )
        )
        if counts["mine"]:
            raise Refused(_("You are already registered for this session."), code="already")
        if counts["seated"] < session.capacity and counts["waiting"] == 0:
            status, position = Status.SEATED, None
        else:
            status, position = Status.WAITLISTED, (counts["last_position"] or 0) + 1
        registration = Registration.objects.create(
            session=session, user=user, city_id=city_id, status=status, waitlist_position=position
        )
        audit(
            obj=registration,
            action="academy.registration.registered",
            actor=user,
            city=City(pk=city_id) if city_id else None,
            to_state=status,
            # Public in the ledger: the session and the place on its waitlist (None: seated).
            data={"session": session.pk, "waitlist_position": position},
        )
        notifications.auto_follow(user, session)
    return registration


def registration_cancel(*, registration_id: int, user: User, now: datetime | None = None) -> bool:
    """Cancel one's own registration before the deadline; a freed seat goes to the waitlist.

    Atomic; idempotent (cancelling twice changes nothing and returns False). The promotion
    runs in a Celery task queued on commit; the periodic pass catches a missed one.
    Raises Refused (code "deadline") after the registration deadline.
    """
    now = now or timezone.now()
    registration = Registration.objects.select_related("session").get(pk=registration_id)
    if registration.user_id != user.pk:
        raise Registration.DoesNotExist
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=registration.session_id)
        registration = Registration.objects.select_for_update().get(pk=registration_id)
        if registration.status == Status.CANCELLED:
            return False
        if now >= session.registration_deadline:
            raise Refused(
                _(
                    "The registration deadline has passed, so the registration can no longer "
                    "be cancelled online. If you cannot come, please tell the organisers."
                ),
                code="deadline",
            )
        was = registration.status
        transition(
            registration,
            allowed_from=[Status.SEATED, Status.WAITLISTED],
            to=Status.CANCELLED,
            action="academy.registration.cancelled",
            actor=user,
            city=registration.city_id,
            data={"session": session.pk, "waitlist_position": registration.waitlist_position},
            waitlist_position=None,
            cancelled_at=now,
        )
        if was == Status.SEATED:
            enqueue_on_commit("academy.tasks.promote_waitlist", session.pk)
    return True


def waitlist_promote(*, session_id: int, now: datetime | None = None) -> list[int]:
    """Give free seats to the first people on the waitlist, in order; e-mail each of them.

    Atomic and idempotent: the session row is locked, each promotion is a conditional update
    (waitlisted → seated), and the e-mail's outbox key is per registration, so two runs at the
    same moment (two cancellations) never promote one person twice or send two e-mails.
    Returns the promoted registration ids. Called by the promote_waitlist task and the
    periodic pass.
    """
    now = now or timezone.now()
    promoted: list[int] = []
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("course")
            .get(pk=session_id)
        )
        if session.is_cancelled or session.starts_at <= now:
            return promoted
        seated = session.registrations.filter(status=Status.SEATED).count()
        free = session.capacity - seated
        if free <= 0:
            return promoted
        waiting = list(
            session.registrations.filter(status=Status.WAITLISTED)
            .select_related("user", "city")
            .order_by("waitlist_position")[:free]
        )
        for registration in waiting:
            try:
                transition(
                    registration,
                    allowed_from=[Status.WAITLISTED],
                    to=Status.SEATED,
                    action="academy.registration.promoted",
                    city=registration.city_id,
                    data={
                        "session": session.pk,
                        "waitlist_position": registration.waitlist_position,
                    },
                    waitlist_position=None,
                    promoted_at=now,
                )
            except Refused:  # cancelled meanwhile
                continue
            promoted.append(registration.pk)
            notify_user(
                user=registration.user,
                key=f"academy:promoted:r{registration.pk}",
                template="academy_promoted",
                context={"session": session, "course": session.course},
                city=registration.city,
            )
    return promoted


def sessions_with_free_seats_and_waitlist(now: datetime | None = None) -> list[int]:
    """Upcoming sessions where someone waits while a seat is free (a missed promotion)."""
    now = now or timezone.now()
    return list(
        Session.objects.filter(is_cancelled=False, starts_at__gt=now)
        .annotate(
            seated=Count("registrations", filter=Q(registrations__status=Status.SEATED)),
            waiting=Count("registrations", filter=Q(registrations__status=Status.WAITLISTED)),
        )
        .filter(waiting__gt=0, seated__lt=F("capacity"))
        .values_list("pk", flat=True)
    )


def session_cancel(*, session_id: int, actor: User | None, reason: str = "") -> int:
    """Cancel a session and e-mail everyone registered or waiting, once each.

    Atomic; idempotent (a cancelled session returns 0 and sends nothing: the outbox key is
    per registration). Registrations are kept as they were, for the record. Academy staff
    only (admin action). Returns the number of people notified.
    """
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("course")
            .get(pk=session_id)
        )
        if session.is_cancelled:
            return 0
        Session.objects.filter(pk=session.pk).update(is_cancelled=True)
        session.is_cancelled = True
        audit(
            obj=session,
            action="academy.session.cancelled",
            actor=actor,
            city=session.city,
            from_state="scheduled",
            to_state="cancelled",
            reason=reason,
        )
        people = (
            Registration.objects.filter(session=session)
            .exclude(status=Status.CANCELLED)
            .select_related("user", "city")
        )
        notified = 0
        for registration in people:
            notified += bool(
                notify_user(
                    user=registration.user,
                    key=f"academy:session-cancelled:r{registration.pk}",
                    template="academy_session_cancelled",
                    context={"session": session, "course": session.course, "reason": reason},
                    city=registration.city,
                )
            )
        notices.session_cancelled(session, told=[r.user_id for r in people])
    return notified


# Changes of a scheduled session that people who follow it hear about.
SESSION_CHANGE_FIELDS = ("starts_at", "ends_at", "city", "venue", "meeting_url")


def session_changed(*, session: Session, actor: User | None, changed: list[str]) -> bool:
    """Record that a session's date, time or place changed and tell its followers (each once,
    at their pace). Call inside the transaction that saved the change (the admin's); `changed`
    are the names of the fields it changed. Other fields (seats, trainers) are not news; a
    cancelled or finished session tells nobody. Returns whether an event was recorded."""
    fields = [name for name in SESSION_CHANGE_FIELDS if name in changed]
    if not fields or session.is_cancelled or session.ends_at <= timezone.now():
        return False
    entry = audit(
        obj=session,
        action="academy.session.changed",
        actor=actor,
        city=session.city,
        data={"fields": fields},
    )
    notices.session_changed(session, entry.pk, fields=fields)
    return True


# --- attendance and certificates ------------------------------------------------------------
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud, typed by hand


def new_certificate_code() -> str:
    """20 random symbols of 32 (100 bits), grouped for reading: ECA-XXXXX-XXXXX-XXXXX-XXXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(20))
    return "ECA-" + "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def normalise_code(code: str) -> str:
    """Upper case, and only the symbols a code can contain (people paste with spaces)."""
    return re.sub(r"[^A-Z0-9-]", "", code.upper())


def certificate_issue(*, registration: Registration, actor: User | None = None) -> Certificate:
    """Issue (or restore) the certificate of an attendee; the PDF follows in a task.

    Atomic, idempotent (one certificate per registration). Refuses non-attendees.
    """
    if registration.status != Status.SEATED or not registration.attended:
        raise Refused(_("Certificates are issued to attendees only."), code="not_attendee")
    with transaction.atomic():
        existing = Certificate.objects.select_for_update().filter(registration=registration).first()
        if existing is not None:
            if existing.is_revoked:
                Certificate.objects.filter(pk=existing.pk).update(
                    revoked_at=None, revoked_reason=""
                )
                audit(
                    obj=existing,
                    action="academy.certificate.restored",
                    actor=actor,
                    city=registration.city,
                    from_state="revoked",
                    to_state="valid",
                )
            if not existing.pdf:
                _queue_pdf(existing.pk)
            return existing
        session = registration.session
        certificate = Certificate.objects.create(
            registration=registration,
            code=new_certificate_code(),
            holder_name=registration.user.full_name,
            course_title=session.course.title,
            hours=session.hours,
            session_date=timezone.localtime(session.starts_at).date(),
        )
        audit(
            obj=certificate,
            action="academy.certificate.issued",
            actor=actor,
            city=registration.city,
            to_state="valid",
        )
        _queue_pdf(certificate.pk)
    return certificate


def _queue_pdf(certificate_id: int) -> None:
    enqueue_on_commit("academy.tasks.generate_certificate_pdf", certificate_id)


def certificate_revoke(*, certificate: Certificate, reason: str, actor: User | None = None) -> bool:
    """Mark a certificate revoked (the check page then says so). Idempotent."""
    with transaction.atomic():
        changed = Certificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason[:300]
        )
        if changed:
            audit(
                obj=certificate,
                action="academy.certificate.revoked",
                actor=actor,
                city=certificate.registration.city,
                from_state="valid",
                to_state="revoked",
                reason=reason,
            )
    return bool(changed)


def attendance_set(
    *,
    registration: Registration,
    attended: bool,
    actor: User | None,
    now: datetime | None = None,
) -> bool:
    """Mark one seated registration as attended or not; issue or revoke its certificate.

    Atomic; returns False when nothing changed. The caller checks that `actor` may mark
    attendance for the session (academy.access.can_mark_attendance).
    """
    now = now or timezone.now()
    session = registration.session
    if session.starts_at > now:
        raise Refused(
            _("Attendance can be marked once the session has started."), code="not_started"
        )
    if registration.status != Status.SEATED:
        raise Refused(_("Only registered participants can attend."), code="not_seated")
    with transaction.atomic():
        changed = (
            Registration.objects.filter(pk=registration.pk, status=Status.SEATED)
            .exclude(attended=attended)
            .update(attended=attended, attendance_marked_at=now)
        )
        if not changed:
            return False
        registration.attended = attended
        registration.attendance_marked_at = now
        audit(
            obj=registration,
            action="academy.registration.attendance_marked",
            actor=actor,
            city=registration.city,
            from_state=str(not attended).lower(),
            to_state=str(attended).lower(),
        )
        if attended:
            certificate_issue(registration=registration, actor=actor)
        else:
            certificate = Certificate.objects.filter(registration=registration).first()
            if certificate is not None:
                certificate_revoke(
                    certificate=certificate, reason="attendance withdrawn", actor=actor
                )
    return True


def attendance_mark(
    *,
    session: Session,
    attended_ids: set[int],
    actor: User | None,
    now: datetime | None = None,
) -> int:
    """Set the roster of a session at once: the listed seated registrations attended, the
    others not. Atomic; returns the number of registrations changed."""
    now = now or timezone.now()
    if session.starts_at > now:
        raise Refused(
            _("Attendance can be marked once the session has started."), code="not_started"
        )
    changed = 0
    with transaction.atomic():
        roster = (
            Registration.objects.select_for_update(of=("self",))
            .filter(session=session, status=Status.SEATED)
            .select_related("user", "city", "session__course")
        )
        for registration in roster:
            want = registration.pk in attended_ids
            if want != registration.attended:
                changed += attendance_set(
                    registration=registration, attended=want, actor=actor, now=now
                )
    return changed


def certificate_generate_pdf(*, certificate_id: int) -> bool:
    """Render the certificate PDF once and e-mail the holder that it is ready.

    Idempotent: the file is attached with a conditional update (pdf still empty); a run that
    loses the race deletes its copy. The e-mail's outbox key is per certificate.
    """
    from academy.certificates import render_certificate_pdf

    certificate = Certificate.objects.select_related("registration__user").get(pk=certificate_id)
    if certificate.pdf:
        return False
    data = render_certificate_pdf(certificate)
    storage = Certificate._meta.get_field("pdf").storage
    name = storage.save(f"academy/certificates/{certificate.code}.pdf", ContentFile(data))
    with transaction.atomic():
        attached = Certificate.objects.filter(pk=certificate.pk, pdf="").update(pdf=name)
        if attached != 1:
            storage.delete(name)
            return False
        notify_user(
            user=certificate.registration.user,
            key=f"academy:certificate:c{certificate.pk}",
            template="academy_certificate",
            context={"certificate": certificate},
            city=certificate.registration.city,
        )
    return True


def certificates_without_pdf(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Certificate.objects.filter(
            pdf="", revoked_at__isnull=True, issued_at__lt=now - conf.CERTIFICATE_SWEEP_AFTER
        ).values_list("pk", flat=True)[:500]
    )


# --- feedback -------------------------------------------------------------------------------
def feedback_submit(
    *,
    registration: Registration,
    user: User,
    rating: int,
    comment: str,
    now: datetime | None = None,
) -> Feedback:
    """Record an attendee's feedback on a session that has ended, once.

    Refuses non-attendees, other people's registrations, a session not yet over or over for
    longer than conf.FEEDBACK_DAYS, and a second feedback (the one-to-one constraint also
    refuses it under a race).
    """
    now = now or timezone.now()
    if registration.user_id != user.pk or not registration.attended:
        raise Refused(
            _("Only people who attended the session can leave feedback."), code="not_attendee"
        )
    if registration.session.ends_at > now:
        raise Refused(_("Feedback opens when the session is over."), code="not_over")
    if now > registration.session.ends_at + timedelta(days=conf.FEEDBACK_DAYS):
        raise Refused(_("Feedback for this session is closed."), code="closed")
    try:
        with transaction.atomic():
            return Feedback.objects.create(
                registration=registration, rating=rating, comment=comment
            )
    except IntegrityError:
        raise Refused(
            _("You have already left feedback for this session."), code="already"
        ) from None


# --- experts --------------------------------------------------------------------------------
def expert_profile_update(*, expert: Expert, editor: User, form: forms.ModelForm) -> Expert:
    """Save an expert's own profile edit. Only the linked user may call it."""
    if expert.user_id is None or expert.user_id != editor.pk:
        raise PermissionError("experts edit only their own profile")
    with transaction.atomic():
        expert = form.save()
        audit(obj=expert, action="academy.expert.updated", actor=editor)
    return expert
