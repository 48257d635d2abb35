"""Petition workflows: filing, moderation, signing, the tally, responses and beat jobs.

Every status change goes through `opencity.core.transitions.transition` (or a beat job's
conditional UPDATE) and writes an audit entry in the same transaction; a rule that refuses
raises `opencity.core.Refused`. Signing inserts one row and
never locks or updates the petition row; the tally recomputes the count from the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opencity import notifications
from opencity.accounts.models import User
from opencity.accounts.selectors import has_verified_email
from opencity.cities import access
from opencity.cities.models import City, StaffRole
from opencity.cities.selectors import city_staff
from opencity.core import Refused
from opencity.core.services import audit, notify_user
from opencity.core.sql import prepared_cursor
from opencity.core.transitions import transition
from opencity.identity import services as identity
from opencity.queue import enqueue_on_commit, send_now, task_named
from opencity.workdays import add_working_days
from petitions import conf, pages, sign_statements
from petitions.models import Petition, PetitionRules, Signature

logger = logging.getLogger(__name__)

Status = Petition.Status
MODERATE_ROLES = (StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN)
RESPOND_ROLES = (StaffRole.Role.RESPONDER, StaffRole.Role.CITY_ADMIN, StaffRole.Role.MODERATOR)
SIGNABLE_STATUSES = (Status.COLLECTING, Status.REACHED)


# --- rules --------------------------------------------------------------------------------


def rules_for_city(city: City | int) -> PetitionRules:
    """The city's saved rules, or the defaults (unsaved) if it has none yet."""
    city_id = city if isinstance(city, int) else city.pk
    rules = PetitionRules.objects.filter(city_id=city_id).first()
    return rules or PetitionRules(city_id=city_id)


# --- transitions ----------------------------------------------------------------------------


def _require_author(petition: Petition, actor: User | None) -> None:
    if actor is None or not actor.is_authenticated or actor.pk != petition.author_id:
        raise Refused(_("Only the author may do this."), code="forbidden")


def _require_staff(petition: Petition, actor: User, roles: Iterable[str]) -> None:
    if not access.can_act_on_city(actor, petition.city_id, roles):
        raise Refused(_("You may not act on this city's petitions."), code="forbidden")


def petition_create_draft(*, author: User, city: City, title: str, text: str) -> Petition:
    """Save a draft of `author`. Callers check that the author has a verified e-mail."""
    return Petition.objects.create(
        author=author, author_name=author.public_name, city=city, title=title, text=text
    )


def petition_submit(*, petition: Petition, actor: User) -> Petition:
    """draft → submitted (author only). Sets the moderation deadline in working days and
    tells the author and the city's moderators. Atomic."""
    _require_author(petition, actor)
    if not has_verified_email(actor):
        raise Refused(_("Confirm your e-mail address to submit petitions."), code="unverified")
    now = timezone.now()
    rules = rules_for_city(petition.city_id)
    due = add_working_days(timezone.localdate(now), rules.moderation_working_days)
    with transaction.atomic():
        transition(
            petition,
            allowed_from=[Status.DRAFT],
            to=Status.SUBMITTED,
            actor=actor,
            city=petition.city_id,
            action="petitions.petition.submitted",
            refused=_("This petition cannot be submitted now."),
            author_name=actor.public_name,
            submitted_at=now,
            moderation_due=due,
        )
        _notify_author(petition, "received")
        _notify_staff(petition, "staff_new", MODERATE_ROLES)
    return petition


def petition_file(*, author: User, city: City, title: str, text: str) -> Petition:
    """Create and submit in one step (the file form's final button). Atomic."""
    with transaction.atomic():
        petition = petition_create_draft(author=author, city=city, title=title, text=text)
        notifications.auto_follow(author, petition)
        return petition_submit(petition=petition, actor=author)


def petition_withdraw(*, petition: Petition, actor: User) -> Petition:
    """draft/submitted → withdrawn, by the author before publication. Atomic."""
    _require_author(petition, actor)
    transition(
        petition,
        allowed_from=[Status.DRAFT, Status.SUBMITTED],
        to=Status.WITHDRAWN,
        actor=actor,
        city=petition.city_id,
        action="petitions.petition.withdrawn",
        refused=_("A published petition cannot be withdrawn."),
    )
    return petition


def petition_publish(*, petition: Petition, actor: User) -> Petition:
    """submitted → collecting, by the city's moderator. Copies the city's current rules onto
    the petition (it keeps them), starts collection, and records the author's own signature
    (the author signs automatically, as on the Kyiv and E-DEM systems). Atomic."""
    _require_staff(petition, actor, MODERATE_ROLES)
    author = petition.author
    if not author.full_name or not author.email:
        raise Refused(
            _("The author's name and e-mail address are needed to publish a petition."),
            code="author_incomplete",
        )
    rules = rules_for_city(petition.city_id)
    now = timezone.now()
    with transaction.atomic():
        transition(
            petition,
            allowed_from=[Status.SUBMITTED],
            to=Status.COLLECTING,
            actor=actor,
            city=petition.city_id,
            action="petitions.petition.published",
            threshold=rules.threshold,
            collection_days=rules.collection_days,
            respond_working_days=rules.respond_working_days,
            require_identity=rules.require_identity,
            published_at=now,
            collection_ends_at=now + timedelta(days=rules.collection_days),
        )
        Signature.objects.get_or_create(petition=petition, user_id=petition.author_id)
        _notify_author(petition, "published")
        request_tally_on_commit(petition.pk)
    return petition


def petition_reject(*, petition: Petition, actor: User, ground: str, comment: str = "") -> Petition:
    """submitted → rejected with a ground from the law's list, by the city's moderator."""
    _require_staff(petition, actor, MODERATE_ROLES)
    if ground not in Petition.RejectionGround.values:
        raise ValueError(f"unknown rejection ground {ground!r}")
    with transaction.atomic():
        transition(
            petition,
            allowed_from=[Status.SUBMITTED],
            to=Status.REJECTED,
            actor=actor,
            city=petition.city_id,
            action="petitions.petition.rejected",
            reason=f"{ground}: {comment}".strip(": "),
            rejection_ground=ground,
            rejection_comment=comment,
        )
        _notify_author(petition, "rejected")
    return petition


def petition_respond(*, petition: Petition, actor: User, decision: str, text: str) -> Petition:
    """reached → answered: the council's official response, by the city's staff. Tells the
    author now and the signers who opted in through a task (re-queued by a beat pass)."""
    _require_staff(petition, actor, RESPOND_ROLES)
    if decision not in Petition.Decision.values:
        raise ValueError(f"unknown decision {decision!r}")
    now = timezone.now()
    petition.refresh_from_db(fields=["response_due"])
    on_time = petition.response_due is None or timezone.localdate(now) <= petition.response_due
    with transaction.atomic():
        transition(
            petition,
            allowed_from=[Status.REACHED],
            to=Status.ANSWERED,
            actor=actor,
            city=petition.city_id,
            action="petitions.petition.answered",
            reason=decision,
            response_decision=decision,
            response_text=text,
            answered_at=now,
            answered_on_time=on_time,
        )
        _notify_author(petition, "answered")
        enqueue_on_commit("petitions.tasks.notify_signers_answered", petition.pk)
        notifications.emit(
            "petitions.answered",
            petition,
            key=f"petition:{petition.pk}:answered",
            city=petition.city_id,
            data={"decision": decision},
            told=[petition.author_id],
        )
    return petition


# --- signing and the tally -------------------------------------------------------------------


def petition_sign(
    *, petition: Petition | int, user: User, notify_on_answer: bool = True
) -> Signature:
    """Record `user`'s signature in one INSERT; never locks or updates the petition row.

    The conditions are checked by the database at the moment of the insert, so a signature
    cannot slip in after the petition stopped collecting. When nothing was inserted the reason
    is looked up and raised as Refused (code "unverified", "not_collecting", "identity" or
    "already"); Petition.DoesNotExist for an unknown petition. The displayed count follows
    through the coalesced tally.
    """
    petition_id = petition if isinstance(petition, int) else petition.pk
    signed_at = timezone.now()
    postgresql = connection.vendor == "postgresql"
    params = {
        "petition": petition_id,
        "user": user.pk,
        "now": connection.ops.adapt_datetimefield_value(signed_at),
        "notify": notify_on_answer,
    }
    try:
        with prepared_cursor() as cursor:
            cursor.execute(
                sign_statements.SIGN_AND_FOLLOW_SQL if postgresql else sign_statements.SIGN_SQL,
                params,
            )
            row = cursor.fetchone()
    except IntegrityError as exc:
        # The signature's trigger claims the person's identity key (opencity.identity): a
        # paper line of the same person committed while this statement ran (one already
        # committed is seen by the statement, which then inserts nothing).
        if not identity.is_counted_twice(exc):
            raise
        if connection.in_atomic_block:  # the caller's transaction is spoilt: no more reads
            raise Refused(_("You are already counted here."), code="counted") from None
        raise identity.already_counted(
            scope="petition", subject_id=petition_id, user_id=user.pk
        ) from None
    if row is None:
        raise _why_not_signed(petition_id, user)
    if not postgresql:
        notifications.auto_follow(user, Petition(pk=petition_id))
    request_tally_on_commit(petition_id)
    return Signature(
        pk=row[0],
        petition_id=petition_id,
        user_id=user.pk,
        created_at=signed_at,
        notify_on_answer=notify_on_answer,
        public_name=user.full_name,
    )


def _why_not_signed(petition_id: int, user: User) -> Exception:
    state = (
        Petition.objects.filter(pk=petition_id)
        .values("status", "collection_ends_at", "require_identity")
        .first()
    )
    if state is None:
        return Petition.DoesNotExist(petition_id)
    if not has_verified_email(user):
        return Refused(_("Confirm your e-mail address to sign petitions."), code="unverified")
    ends = state["collection_ends_at"]
    if state["status"] not in SIGNABLE_STATUSES or (ends and ends <= timezone.now()):
        return Refused(_("This petition is not collecting signatures."), code="not_collecting")
    if state["require_identity"] and not user.identity_verified_at:
        return Refused(
            _(
                "This council accepts signatures only from people who confirmed their identity "
                "(BankID, ID.gov.ua). Sign in with your identity provider to sign."
            ),
            code="identity",
        )
    if identity.counted_on_paper(scope="petition", subject_id=petition_id, user_id=user.pk):
        return identity.already_counted(scope="petition", subject_id=petition_id, user_id=user.pk)
    return Refused(_("You have already signed this petition."), code="already")


def request_tally_on_commit(petition_id: int) -> None:
    transaction.on_commit(lambda: request_tally(petition_id))


def request_tally(petition_id: int) -> None:
    """Queue a tally unless one is already pending for this petition.

    The pending key lives exactly as long as the task's countdown, so a signature that finds
    the key present committed before that task will count. If Redis is down nothing fails:
    the beat pass (`tally_stale`) recounts.
    """
    task = task_named("petitions.tasks.tally_petition")
    seconds = conf.TALLY_COALESCE_SECONDS
    if task.app.conf.task_always_eager:
        # In-process tasks (demo, tests) cannot wait for the countdown: count right away.
        send_now(task, petition_id)
        return
    try:
        first = cache.add(f"petitions:tally-pending:{petition_id}", 1, timeout=seconds)
    except Exception as exc:
        logger.warning("tally coalescing unavailable (%s)", type(exc).__name__)
        first = True
    if first:
        send_now(task, petition_id, countdown=seconds)


def petition_tally(*, petition_id: int) -> int | None:
    """Recount signatures from rows and store the count; detect the threshold. Idempotent.

    Overlapping runs are safe: the stored count never goes back, and the threshold change is
    a conditional UPDATE handled by exactly one run.
    """
    started = timezone.now()
    # Online rows plus the confirmed paper lines of service centres (paper/, registered
    # with opencity.identity): the threshold is reached by their sum.
    paper = identity.offline_counts("petition", [petition_id]).get(petition_id, 0)
    count = Signature.objects.filter(petition_id=petition_id).count() + paper
    # A run stores its count unless a later-started run already stored one; a larger count
    # always wins (signatures are never deleted), whatever the order the runs finish in.
    Petition.objects.filter(pk=petition_id).filter(
        Q(counted_at__isnull=True) | Q(counted_at__lt=started) | Q(signature_count__lt=count)
    ).update(signature_count=count, paper_signature_count=paper, counted_at=started)
    state = Petition.objects.filter(pk=petition_id).values("status", "threshold").first() or {}
    emit_milestones(petition_id=petition_id, count=count, threshold=state.get("threshold"))
    if (
        state.get("status") == Status.COLLECTING
        and state["threshold"]
        and count >= state["threshold"]
    ):
        petition_mark_reached(petition_id=petition_id)
    return count


MILESTONES = (25, 50, 75, 100)


def emit_milestones(*, petition_id: int, count: int, threshold: int | None) -> int:
    """Tell followers when the count passes 25/50/75/100 % of the threshold: each milestone
    is one event, keyed by petition and percent, so however many tallies run at once (and
    whatever order they finish in) each follower hears of it once."""
    if not threshold or count * 100 < MILESTONES[0] * threshold:
        return 0
    petition = Petition.objects.select_related("city").get(pk=petition_id)
    emitted = 0
    for percent in MILESTONES:
        if count * 100 >= percent * threshold and notifications.emit(
            "petitions.milestone",
            petition,
            key=f"petition:{petition_id}:milestone:{percent}",
            city=petition.city_id,
            data={"percent": percent, "threshold": threshold},
        ):
            emitted += 1
    return emitted


def petition_mark_reached(*, petition_id: int) -> bool:
    """collecting → reached, exactly once: a conditional UPDATE claims it; the audit entry and
    notifications go in the same transaction (a worker dying mid-way rolls all back)."""
    now = timezone.now()
    with transaction.atomic():
        petition = Petition.objects.select_related("city", "author").get(pk=petition_id)
        days = petition.respond_working_days or conf.DEFAULT_RESPOND_WORKING_DAYS
        due = add_working_days(timezone.localdate(now), days)
        claimed = Petition.objects.filter(
            pk=petition_id, status=Status.COLLECTING, signature_count__gte=F("threshold")
        ).update(status=Status.REACHED, reached_at=now, response_due=due)
        if claimed != 1:
            return False
        pages.petition_changed(petition_id)
        petition.refresh_from_db()
        audit(
            obj=petition,
            action="petitions.petition.reached",
            city=petition.city,
            from_state=Status.COLLECTING,
            to_state=Status.REACHED,
            reason=str(petition.signature_count),
        )
        _notify_author(petition, "reached")
        _notify_staff(petition, "staff_reached", RESPOND_ROLES)
    return True


def tally_stale(now: datetime | None = None) -> int:
    """Beat pass: recount open petitions that got signatures since their last count (or were
    never counted) — what a Redis outage or a lost task left behind."""
    now = now or timezone.now()
    recent = Signature.objects.filter(
        petition=OuterRef("pk"), created_at__gte=OuterRef("counted_at") - timedelta(minutes=2)
    )
    ids = list(
        Petition.objects.filter(status__in=SIGNABLE_STATUSES)
        .filter(Q(counted_at__isnull=True) | Exists(recent))
        .values_list("pk", flat=True)[:5000]
    )
    for petition_id in ids:
        petition_tally(petition_id=petition_id)
    return len(ids)


# --- beat jobs ------------------------------------------------------------------------------


def close_expired(now: datetime | None = None) -> int:
    """Close petitions whose period ended below the threshold (a final recount first, after
    a short grace so that last-second signatures are committed). Idempotent."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=conf.CLOSE_GRACE_MINUTES)
    closed = 0
    for petition_id in Petition.objects.filter(
        status=Status.COLLECTING, collection_ends_at__lt=cutoff
    ).values_list("pk", flat=True):
        petition_tally(petition_id=petition_id)
        with transaction.atomic():
            changed = Petition.objects.filter(pk=petition_id, status=Status.COLLECTING).update(
                status=Status.CLOSED, closed_at=now
            )
            if changed != 1:
                continue
            pages.petition_changed(petition_id)
            petition = Petition.objects.select_related("city", "author").get(pk=petition_id)
            audit(
                obj=petition,
                action="petitions.petition.closed",
                city=petition.city,
                from_state=Status.COLLECTING,
                to_state=Status.CLOSED,
                reason=str(petition.signature_count),
            )
            _notify_author(petition, "closed")
            notifications.emit(
                "petitions.closed",
                petition,
                key=f"petition:{petition_id}:closed",
                city=petition.city_id,
                data={"count": petition.signature_count},
                told=[petition.author_id],
            )
            closed += 1
    return closed


def flag_overdue(now: datetime | None = None) -> int:
    """Flag petitions whose moderation or response deadline has passed and remind the city's
    staff, once per petition and deadline (claimed with a conditional UPDATE)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    flagged = 0
    checks = (
        (Status.SUBMITTED, "moderation_due", "moderation_overdue_at", MODERATE_ROLES, "moderation"),
        (Status.REACHED, "response_due", "response_overdue_at", RESPOND_ROLES, "response"),
    )
    for status, due_field, flag_field, roles, kind in checks:
        ids = Petition.objects.filter(
            status=status, **{f"{due_field}__lt": today, f"{flag_field}__isnull": True}
        ).values_list("pk", flat=True)
        for petition_id in ids:
            with transaction.atomic():
                claimed = Petition.objects.filter(
                    pk=petition_id, status=status, **{f"{flag_field}__isnull": True}
                ).update(**{flag_field: now})
                if claimed != 1:
                    continue
                petition = Petition.objects.select_related("city", "author").get(pk=petition_id)
                audit(
                    obj=petition,
                    action=f"petitions.petition.{kind}_overdue",
                    city=petition.city,
                    reason=str(getattr(petition, due_field)),
                )
                _notify_staff(petition, f"staff_overdue_{kind}", roles)
                flagged += 1
    return flagged


def notify_signers_answered(*, petition_id: int) -> int:
    """E-mail the response to signers who opted in. Idempotent (one outbox key per signer);
    marks the petition done so the beat pass stops re-queueing it."""
    petition = Petition.objects.select_related("city").get(pk=petition_id)
    if petition.status != Status.ANSWERED or petition.signers_notified_at:
        return 0
    sent = 0
    signers = (
        User.objects.filter(
            petition_signatures__petition_id=petition_id,
            petition_signatures__notify_on_answer=True,
            is_active=True,
        )
        .exclude(pk=petition.author_id)
        .order_by("pk")
    )
    for user in signers.iterator(chunk_size=500):
        if notify_user(
            user=user,
            key=f"petition:{petition_id}:answered-signer",
            template="petition_answered_signer",
            context=_email_context(petition),
            city=petition.city,
        ):
            sent += 1
    Petition.objects.filter(pk=petition_id, signers_notified_at__isnull=True).update(
        signers_notified_at=timezone.now()
    )
    return sent


def answered_without_signer_notice(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Petition.objects.filter(
            status=Status.ANSWERED,
            signers_notified_at__isnull=True,
            answered_at__lt=now - timedelta(minutes=5),
        ).values_list("pk", flat=True)[:100]
    )


# --- notifications --------------------------------------------------------------------------


def _email_context(petition: Petition) -> dict:
    return {
        "petition": petition,
        "url": settings.SITE_URL + petition.get_absolute_url(),
        "admin_url": f"{settings.SITE_URL}/admin/petitions/petition/{petition.pk}/change/",
    }


def _notify_author(petition: Petition, kind: str) -> None:
    notify_user(
        user=petition.author,
        key=f"petition:{petition.pk}:{kind}",
        template=f"petition_{kind}",
        context=_email_context(petition),
        city=petition.city,
    )


def _notify_staff(petition: Petition, kind: str, roles: Iterable[str]) -> None:
    for user in city_staff(petition.city_id, roles):
        notify_user(
            user=user,
            key=f"petition:{petition.pk}:{kind}",
            template=f"petition_{kind}",
            context=_email_context(petition),
            city=petition.city,
        )
