"""The programme's calendar: staff extend a stage; a beat job announces each new stage."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives import notices
from initiatives.models import STAGE_END_FIELDS, Programme, Stage
from initiatives.services._common import REVIEW_ROLES, notify_staff
from initiatives.services.rules import programme_freeze_rules
from opencity.accounts.models import User
from opencity.cities.access import can_act_on_city
from opencity.core import Refused
from opencity.core.services import audit


def programme_extend_stage(
    *, programme: Programme, stage: str, until: date, actor: User, reason: str
) -> Programme:
    """Move the closing date of a stage later (atomic, audited). City staff of the city.

    Later stages are not moved: the new date must keep the stages in order (the database
    refuses otherwise). Staff are notified of the change.
    """
    if not can_act_on_city(actor, programme.city_id, REVIEW_ROLES):
        raise Refused(_("You may not change this city's programmes."), code="forbidden")
    field = STAGE_END_FIELDS.get(stage)
    if field is None:
        raise Refused(_("This stage cannot be extended."), code="stage")
    old = getattr(programme, field)
    if until <= old:
        raise Refused(_("An extension must end later than the stage does now."), code="date")
    if not reason.strip():
        raise Refused(_("Give the reason for the extension."), code="reason")
    try:
        with transaction.atomic():
            Programme.objects.filter(pk=programme.pk).update(**{field: until})
            programme.refresh_from_db()
            audit(
                obj=programme,
                action="initiatives.programme.stage_extended",
                actor=actor,
                city=programme.city,
                from_state=old.isoformat(),
                to_state=until.isoformat(),
                reason=reason,
                data={"stage": stage, "field": field},
            )
            notify_staff(
                programme,
                f"initiatives:extended:p{programme.pk}:{field}:{until}",
                "initiatives/staff_stage_changed",
                stage=Stage(stage).label,
                until=until,
                extended=True,
            )
    except IntegrityError as exc:
        programme.refresh_from_db()
        raise Refused(
            _("The new date would overlap the next stage; move that stage first."), code="order"
        ) from exc
    return programme


def programme_announce_stage(*, programme_id: int, today: date | None = None) -> bool:
    """Tell the city's staff the programme entered a new stage (idempotent, once per stage)."""
    programme = Programme.objects.select_related("city").get(pk=programme_id)
    stage = programme.stage_on(today or timezone.localdate())
    if stage in (Stage.VOTING, Stage.RESULTS, Stage.IMPLEMENTATION):
        programme_freeze_rules(programme_id=programme.pk)
    with transaction.atomic():
        claimed = (
            Programme.objects.filter(pk=programme.pk)
            .exclude(announced_stage=stage)
            .update(announced_stage=stage)
        )
        if not claimed:
            return False
        audit(
            obj=programme,
            action="initiatives.programme.stage_changed",
            city=programme.city,
            from_state=programme.announced_stage,
            to_state=stage,
        )
        notify_staff(
            programme,
            f"initiatives:stage:p{programme.pk}:{stage}",
            "initiatives/staff_stage_changed",
            stage=Stage(stage).label,
        )
        notices.programme_stage(programme, stage)
    return True
