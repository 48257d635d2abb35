"""Review: the city's working group accepts, sends back or rejects initiatives before
voting starts. Every decision is one `transition()` (exactly once, audited) and an e-mail."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from initiatives.models import Initiative
from initiatives.services._common import REVIEW_ROLES, notify_author
from opencity.accounts.models import User
from opencity.cities.access import can_act_on_city
from opencity.core import Refused
from opencity.core.transitions import transition

Status = Initiative.Status


def _check_reviewer(initiative: Initiative, actor: User) -> None:
    if not can_act_on_city(actor, initiative.programme.city_id, REVIEW_ROLES):
        raise Refused(_("You may not review this city's initiatives."), code="forbidden")
    if initiative.programme.voting_has_started:
        raise Refused(_("Voting has started: the review is closed."), code="stage")


def initiative_accept(*, initiative: Initiative, actor: User, comment: str = "") -> Initiative:
    """Accept for voting (atomic, once). City staff of the programme's city, before voting."""
    _check_reviewer(initiative, actor)
    with transaction.atomic():
        transition(
            initiative,
            allowed_from=[Status.SUBMITTED],
            to=Status.ACCEPTED,
            action="initiatives.initiative.accepted",
            actor=actor,
            city=initiative.programme.city,
            reason=comment,
            refused=_("Only an initiative under review can be accepted."),
            review_comment=comment,
        )
        notify_author(initiative, "accepted", "initiatives/accepted")
    return initiative


def initiative_request_revision(*, initiative: Initiative, actor: User, comment: str) -> Initiative:
    """Send back to the author with comments (atomic, once per submission round)."""
    _check_reviewer(initiative, actor)
    if not comment.strip():
        raise Refused(_("Tell the author what to change."), code="comment")
    with transaction.atomic():
        entry = transition(
            initiative,
            allowed_from=[Status.SUBMITTED],
            to=Status.REVISION,
            action="initiatives.initiative.revision_requested",
            actor=actor,
            city=initiative.programme.city,
            reason=comment,
            refused=_("Only an initiative under review can be sent back."),
            review_comment=comment,
        )
        # One e-mail per request (several rounds of revision are possible).
        notify_author(
            initiative, f"revision:a{entry.pk}", "initiatives/revision_requested", comment=comment
        )
    return initiative


def initiative_reject(
    *, initiative: Initiative, actor: User, reason: str, comment: str = ""
) -> Initiative:
    """Reject with a recorded reason (atomic, once). City staff, before voting."""
    _check_reviewer(initiative, actor)
    if reason not in Initiative.RejectionReason.values:
        raise Refused(_("Choose the reason for rejection."), code="reason")
    if reason == Initiative.RejectionReason.OTHER and not comment.strip():
        raise Refused(_("Explain the reason for rejection."), code="comment")
    with transaction.atomic():
        transition(
            initiative,
            allowed_from=[Status.SUBMITTED, Status.REVISION],
            to=Status.REJECTED,
            action="initiatives.initiative.rejected",
            actor=actor,
            city=initiative.programme.city,
            reason=f"{reason}: {comment}".strip(": "),
            refused=_("This initiative cannot be rejected now."),
            rejection_reason=reason,
            review_comment=comment,
        )
        notify_author(
            initiative,
            "rejected",
            "initiatives/rejected",
            reason=Initiative.RejectionReason(reason).label,
            comment=comment,
        )
    return initiative
