"""Proposals: an author files an initiative, revises it when the working group asks, or
withdraws it. The total cost is computed here from the cost lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import Category, CostLine, District, Initiative, Programme, Stage
from initiatives.services._common import notify_author, notify_staff
from initiatives.services.photos import photos_add
from opencity import notifications
from opencity.accounts.models import User
from opencity.accounts.selectors import has_verified_email
from opencity.core import Refused
from opencity.core.services import audit
from opencity.core.transitions import transition

Status = Initiative.Status


@dataclass(frozen=True)
class CostLineInput:
    description: str
    amount: Decimal


def _check_costs(*, category: Category, lines: list[CostLineInput]) -> Decimal:
    if not lines:
        raise Refused(_("Add at least one cost line."), code="no_lines")
    for line in lines:
        if not line.description.strip():
            raise Refused(_("Every cost line needs a description."), code="empty_line")
        if line.amount is None or line.amount <= 0:
            raise Refused(_("Every amount must be greater than zero."), code="amount")
    total = sum((line.amount for line in lines), Decimal("0"))
    if total > category.max_project_cost:
        raise Refused(
            _("The total cost %(total)s UAH is over this category's maximum of %(max)s UAH.")
            % {"total": total, "max": category.max_project_cost},
            code="over_max",
            field="category",
        )
    return total


def _check_place(*, programme: Programme, category: Category, district: District | None) -> None:
    if category.programme_id != programme.pk:
        raise Refused(_("Choose a category of this programme."), code="category", field="category")
    if district is not None and district.programme_id != programme.pk:
        raise Refused(_("Choose a district of this programme."), code="district", field="district")


def _write_lines(initiative: Initiative, lines: list[CostLineInput]) -> None:
    initiative.cost_lines.all().delete()
    CostLine.objects.bulk_create(
        CostLine(
            initiative=initiative,
            position=n,
            description=line.description.strip(),
            amount=line.amount,
        )
        for n, line in enumerate(lines, start=1)
    )


def initiative_submit(
    *,
    author: User,
    programme: Programme,
    category: Category,
    district: District | None,
    title: str,
    summary: str,
    description: str,
    address: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    cost_lines: list[CostLineInput],
    photos: Sequence[UploadedFile] = (),
) -> Initiative:
    """File a new initiative (atomic). Only verified users, only in the submission stage.

    The total cost is the sum of the lines, computed here; it must fit the category's maximum.
    Photos (already checked by the form) are kept privately; their public versions are made
    after commit (`photos_add`).
    Notifies the author (received) and the city's staff (new submission).
    """
    if not has_verified_email(author):
        raise Refused(_("Confirm your e-mail address before submitting."), code="unverified")
    if programme.stage != Stage.SUBMISSION:
        raise Refused(_("Submissions to this programme are closed."), code="stage")
    _check_place(programme=programme, category=category, district=district)
    total = _check_costs(category=category, lines=cost_lines)
    with transaction.atomic():
        initiative = Initiative.objects.create(
            programme=programme,
            category=category,
            district=district,
            author=author,
            title=title,
            summary=summary,
            description=description,
            address=address,
            latitude=latitude,
            longitude=longitude,
            total_cost=total,
            status=Status.SUBMITTED,
        )
        _write_lines(initiative, cost_lines)
        photos_add(initiative=initiative, uploads=photos)
        audit(
            obj=initiative,
            action="initiatives.initiative.submitted",
            actor=author,
            city=programme.city,
            to_state=Status.SUBMITTED,
        )
        notify_author(initiative, "received", "initiatives/received")
        notifications.auto_follow(author, initiative)
        notify_staff(
            programme,
            f"initiatives:new:i{initiative.pk}",
            "initiatives/staff_new_submission",
            initiative=initiative,
        )
    return initiative


def initiative_resubmit(
    *,
    initiative: Initiative,
    author: User,
    category: Category,
    district: District | None,
    title: str,
    summary: str,
    description: str,
    address: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    cost_lines: list[CostLineInput],
    photos: Sequence[UploadedFile] = (),
) -> Initiative:
    """Revise an initiative the working group sent back, and resubmit it (atomic).

    Only its author, only while revision is requested and before review closes. The original
    submission time is kept (it breaks ties in the tally). New photos are added to the ones
    already there, up to the limit.
    """
    programme = initiative.programme
    if initiative.author_id != author.pk:
        raise Refused(_("Only the author may revise this initiative."), code="not_author")
    if initiative.status != Status.REVISION:
        raise Refused(_("This initiative is not waiting for a revision."), code="status")
    if timezone.localdate() > programme.review_closes:
        raise Refused(_("The review of this programme is over."), code="stage")
    _check_place(programme=programme, category=category, district=district)
    total = _check_costs(category=category, lines=cost_lines)
    with transaction.atomic():
        fields = {
            "category": category,
            "district": district,
            "title": title,
            "summary": summary,
            "description": description,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
            "total_cost": total,
        }
        entry = transition(
            initiative,
            allowed_from=[Status.REVISION],
            to=Status.SUBMITTED,
            action="initiatives.initiative.resubmitted",
            actor=author,
            city=programme.city,
            refused=_("This initiative is not waiting for a revision."),
            **fields,
        )
        _write_lines(initiative, cost_lines)
        photos_add(initiative=initiative, uploads=photos)
        notify_staff(
            programme,
            f"initiatives:resubmitted:a{entry.pk}",
            "initiatives/staff_new_submission",
            initiative=initiative,
            resubmitted=True,
        )
    return initiative


def initiative_withdraw(*, initiative: Initiative, author: User) -> Initiative:
    """The author withdraws the initiative before the review ends (atomic, once)."""
    if initiative.author_id != author.pk:
        raise Refused(_("Only the author may withdraw this initiative."), code="not_author")
    if timezone.localdate() > initiative.programme.review_closes:
        raise Refused(
            _("The review is over: the initiative can no longer be withdrawn."), code="stage"
        )
    transition(
        initiative,
        allowed_from=[Status.SUBMITTED, Status.REVISION, Status.ACCEPTED],
        to=Status.WITHDRAWN,
        action="initiatives.initiative.withdrawn",
        actor=author,
        city=initiative.programme.city,
        refused=_("This initiative cannot be withdrawn now."),
    )
    return initiative
