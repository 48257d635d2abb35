"""What petitions contribute to notifications and to a person's data rights (issue 16)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from opencity.accounts.models import User
from opencity.notifications import registry
from petitions.models import Petition, Signature


def visible_petitions(user: User) -> QuerySet[Petition]:
    return Petition.objects.filter(status__in=Petition.PUBLIC_STATUSES)


def export(user: User) -> dict:
    return {
        "petitions_filed": list(
            Petition.objects.filter(author=user)
            .order_by("created_at")
            .values("id", "title", "text", "status", "author_name", "created_at", "city__name_uk")
        ),
        "signatures": list(
            Signature.objects.filter(user=user)
            .order_by("created_at")
            .values("petition_id", "petition__title", "created_at", "public_name")
        ),
    }


def erase(user: User, remove_public_name: bool) -> None:
    """Signatures and filed petitions stay (they count and are on the record); the names
    stored on them are removed only when the person asks."""
    if remove_public_name:
        Signature.objects.filter(user=user).update(public_name="")
        Petition.objects.filter(author=user).update(author_name="")
    Petition.objects.filter(author=user, status=Petition.Status.DRAFT).delete()


def register() -> None:
    registry.register_kind(
        registry.Kind(
            "petitions.milestone",
            "petitions",
            _("Petitions I follow gather signatures (25, 50, 75, 100 %)"),
            _(
                "The petition has gathered %(percent)s %% of the signatures it needs "
                "(threshold: %(threshold)s)."
            ),
        )
    )
    registry.register_kind(
        registry.Kind(
            "petitions.closed",
            "petitions",
            _("Petitions I follow close without reaching the threshold"),
            _("The petition closed below its threshold (signatures: %(count)s)."),
        )
    )
    registry.register_kind(
        registry.Kind(
            "petitions.answered",
            "petitions",
            _("The council answers petitions I follow"),
            _("The council answered the petition: %(decision)s."),
            describe=lambda data: (
                _("The council answered the petition: %(decision)s.")
                % {"decision": Petition.Decision(data["decision"]).label}
            ),
        )
    )
    registry.register_followable(
        registry.Followable(
            "petitions.petition", "petitions", visible_petitions, lambda p: p.city_id
        )
    )
    registry.register_data(registry.DataContribution("petitions", export, erase))
