"""What public budgets contribute to notifications and to a person's data rights (issue 16):
kinds, followable programmes and projects, the events, the export and the erasure."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from initiatives.models import (
    Ballot,
    EligibilityCheck,
    Initiative,
    Programme,
    ResultSnapshot,
    Stage,
    Vote,
)
from opencity import notifications
from opencity.accounts.models import User
from opencity.notifications import registry


def project_status(initiative: Initiative, event: str) -> None:
    """The project's status changed (its author was told by mail already). A programme's
    results are one event for the programme, not one per project."""
    if event.startswith("result:"):
        return
    notifications.emit(
        "initiatives.project_status",
        initiative,
        key=f"initiative:{initiative.pk}:{event}",
        city=initiative.programme.city_id,
        data={"status": initiative.status},
        told=[initiative.author_id],
    )


def programme_stage(programme: Programme, stage: str) -> None:
    if stage == Stage.VOTING:
        notifications.emit(
            "initiatives.voting_open",
            programme,
            key=f"programme:{programme.pk}:voting-open",
            city=programme.city_id,
        )


def results_published(programme: Programme, snapshot: ResultSnapshot) -> None:
    """Followers of the programme hear of the results; voters who asked for the results by
    mail on their ballot get that mail and no second one."""
    notifications.emit(
        "initiatives.results",
        programme,
        key=f"programme:{programme.pk}:results:{snapshot.pk}",
        city=programme.city_id,
        told=list(
            Ballot.objects.filter(programme=programme, notify=True).values_list(
                "voter_id", flat=True
            )
        ),
    )


def visible_initiatives(user: User) -> QuerySet[Initiative]:
    from initiatives.selectors import PUBLIC_STATUSES as public

    return Initiative.objects.filter(status__in=public)


def export(user: User) -> dict:
    return {
        "projects_proposed": list(
            Initiative.objects.filter(author=user)
            .order_by("pk")
            .values("id", "title", "summary", "description", "address", "status", "total_cost")
        ),
        "votes": list(
            Vote.objects.filter(voter=user)
            .order_by("pk")
            .values("initiative_id", "initiative__title", "programme__title", "created_at")
        ),
        "eligibility_checks": list(
            EligibilityCheck.objects.filter(user=user)
            .order_by("pk")
            .values("city__name_uk", "birth_date", "resident", "document", "checked_at")
        ),
    }


def erase(user: User, remove_public_name: bool) -> None:
    """Votes stay counted; the clerks' checks of age and residence (a birth date, the
    document seen) go with the person."""
    EligibilityCheck.objects.filter(user=user).delete()


def register() -> None:
    registry.register_kind(
        registry.Kind(
            "initiatives.voting_open",
            "initiatives",
            _("Voting opens in public-budget programmes I follow"),
            _("Voting has opened."),
        )
    )
    registry.register_kind(
        registry.Kind(
            "initiatives.results",
            "initiatives",
            _("Results of public-budget programmes I follow"),
            _("The results are published."),
        )
    )
    registry.register_kind(
        registry.Kind(
            "initiatives.project_status",
            "initiatives",
            _("Status of projects I proposed, voted for or follow"),
            _("The project's status has changed."),
            describe=lambda data: (
                _("The project's status is now: %(status)s.")
                % {"status": Initiative.Status(data["status"]).label}
            ),
        )
    )
    registry.register_followable(
        registry.Followable(
            "initiatives.programme",
            "initiatives",
            lambda user: Programme.objects.all(),
            lambda programme: programme.city_id,
        )
    )
    registry.register_followable(
        registry.Followable(
            "initiatives.initiative",
            "initiatives",
            visible_initiatives,
            lambda initiative: initiative.programme.city_id,
        )
    )
    registry.register_data(registry.DataContribution("initiatives", export, erase))
