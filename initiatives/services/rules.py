"""Rules frozen at the start of voting: the programme's rules and its categories' budgets
are copied into a read-only FrozenRules row (the database refuses any later change, see
migration 0004). Voting and the tally read only that copy."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives import pages
from initiatives.models import FROZEN_PROGRAMME_FIELDS, Category, FrozenRules, Programme
from opencity.accounts.models import User
from opencity.core import Refused
from opencity.core.services import audit

RULES_FROZEN = _(
    "The rules and budgets of this programme were frozen when voting started (%(when)s) "
    "and can no longer be changed."
)


def programme_freeze_rules(*, programme_id: int, actor: User | None = None) -> FrozenRules:
    """Copy the programme's rules and category budgets into its FrozenRules (idempotent,
    atomic, audited once). Called when voting starts (the daily stage job), by the first
    confirmed ballot and by the tally, whichever comes first; later calls return the copy.
    """
    existing = FrozenRules.objects.filter(programme_id=programme_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # Hold the programme row until commit: an edit of its rules, or of a category
            # (whose trigger takes a share lock on the programme first), either commits
            # before the copy is read here or waits and is then refused by the trigger.
            programme = Programme.objects.select_for_update().get(pk=programme_id)
            categories = [
                {
                    "id": c.pk,
                    "name": c.name,
                    "budget": str(c.budget),
                    "max_project_cost": str(c.max_project_cost),
                }
                for c in Category.objects.filter(programme_id=programme_id).order_by(
                    "position", "name", "id"
                )
            ]
            frozen = FrozenRules.objects.create(
                programme_id=programme_id,
                frozen_at=timezone.now(),
                categories=categories,
                **{field: getattr(programme, field) for field in FROZEN_PROGRAMME_FIELDS},
            )
            audit(
                obj=programme,
                action="initiatives.programme.rules_frozen",
                actor=actor,
                city=programme.city_id,
                data={
                    **{f: str(getattr(frozen, f)) for f in FROZEN_PROGRAMME_FIELDS},
                    "categories": categories,
                },
            )
    except IntegrityError:  # a concurrent call froze it first
        return FrozenRules.objects.get(programme_id=programme_id)
    # The programme page shows the rules in force: rebuild its cached copy after the commit.
    pages.programme_changed(programme.slug)
    return frozen


def frozen_rules(programme: Programme) -> FrozenRules | None:
    return FrozenRules.objects.filter(programme=programme).first()


def refuse_if_frozen(programme: Programme) -> None:
    """Raise Refused with the clear message if the programme's rules are frozen."""
    frozen = frozen_rules(programme) if programme.pk else None
    if frozen is not None:
        when = timezone.localtime(frozen.frozen_at).strftime("%Y-%m-%d %H:%M")
        raise Refused(
            RULES_FROZEN % {"when": when},
            code="frozen",
        )
