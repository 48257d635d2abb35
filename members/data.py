"""What member cities contribute to a person's data rights (issue 16): the membership
applications they submitted for a city."""

from __future__ import annotations

from members.models import MembershipApplication
from opencity.accounts.models import User
from opencity.notifications import registry


def export(user: User) -> dict:
    return {
        "membership_applications": list(
            MembershipApplication.objects.filter(applicant=user)
            .order_by("created_at", "pk")
            .values(
                "city__name_uk",
                "status",
                "council_decision_number",
                "council_decision_date",
                "contact_name",
                "contact_email",
                "contact_phone",
                "message",
                "secretariat_note",
                "created_at",
            )
        )
    }


def erase(user: User, remove_public_name: bool) -> None:
    """An application is the city's: it stays on the record with its council decision and
    status (the board's decisions refer to it). The contact details the person gave go; the
    secretariat reaches the city through its registered contact."""
    MembershipApplication.objects.filter(applicant=user).update(
        contact_name="", contact_email="", contact_phone=""
    )


def register() -> None:
    registry.register_data(registry.DataContribution("members", export, erase))
