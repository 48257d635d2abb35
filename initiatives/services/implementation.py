"""Implementation: city staff post dated updates on funded projects; "done" is e-mailed to
the voters of the project who opted in. The sweep re-queues voter e-mails a broker outage
kept from starting (results and completion)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import Ballot, ImplementationUpdate, Initiative, ResultSnapshot
from initiatives.services._common import REVIEW_ROLES
from opencity.accounts.models import User
from opencity.cities.access import can_act_on_city
from opencity.core import Refused
from opencity.core.services import audit, notify_user
from opencity.queue import enqueue_on_commit

Status = Initiative.Status


def implementation_update_post(
    *, initiative: Initiative, actor: User, status: str, happened_on: date, text: str
) -> ImplementationUpdate:
    """Post a dated implementation update on a funded project (atomic, audited).

    City staff of the programme's city. "Done" queues e-mails to opted-in voters of it.
    """
    if not can_act_on_city(actor, initiative.programme.city_id, REVIEW_ROLES):
        raise Refused(_("You may not report on this city's projects."), code="forbidden")
    if initiative.status != Status.FUNDED:
        raise Refused(_("Only funded projects have implementation updates."), code="status")
    if status not in ImplementationUpdate.Status.values:
        raise Refused(_("Choose the stage of works."), code="status")
    with transaction.atomic():
        update = ImplementationUpdate.objects.create(
            initiative=initiative,
            status=status,
            happened_on=happened_on,
            text=text,
            created_by=actor,
        )
        audit(
            obj=initiative,
            action="initiatives.initiative.implementation_updated",
            actor=actor,
            city=initiative.programme.city,
            to_state=status,
            reason=text[:500],
            data={"update": update.pk, "date": happened_on.isoformat()},
        )
        if status == ImplementationUpdate.Status.DONE:
            enqueue_on_commit("initiatives.tasks.notify_voters_of_completion", update.pk)
    return update


def notify_voters_of_completion(*, update_id: int) -> int:
    """E-mail opted-in voters of the project that it is done (idempotent: keyed e-mails)."""
    update = ImplementationUpdate.objects.select_related("initiative__programme__city").get(
        pk=update_id
    )
    initiative = update.initiative
    sent = 0
    voters = Ballot.objects.filter(
        programme_id=initiative.programme_id, notify=True, votes__initiative=initiative
    ).select_related("voter")
    for ballot in voters.iterator(chunk_size=500):
        if notify_user(
            user=ballot.voter,
            key=f"initiatives:done:i{initiative.pk}",
            template="initiatives/implementation_done",
            context={"initiative": initiative, "programme": initiative.programme, "update": update},
            city=initiative.programme.city,
        ):
            sent += 1
    ImplementationUpdate.objects.filter(pk=update.pk, voters_notified_at__isnull=True).update(
        voters_notified_at=timezone.now()
    )
    return sent


def pending_voter_notifications(now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Published snapshots and "done" updates whose voter e-mails a broker outage missed."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=2)
    snapshots = ResultSnapshot.objects.filter(
        published_at__lt=cutoff, voters_notified_at__isnull=True
    ).values_list("pk", flat=True)
    updates = ImplementationUpdate.objects.filter(
        status=ImplementationUpdate.Status.DONE,
        created_at__lt=cutoff,
        voters_notified_at__isnull=True,
    ).values_list("pk", flat=True)
    return list(snapshots[:100]), list(updates[:100])
