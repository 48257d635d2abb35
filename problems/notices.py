"""What problem reports contribute to notifications and to a person's data rights (issue 16).

problems/ keeps its own follower list (problems.Follow) and mails those followers itself on
every status change; the core's follows of a report are mirrored into it (``sync``), and the
core event reaches only people the report's own mail did not (``told``)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from opencity import notifications
from opencity.accounts.models import User
from opencity.notifications import registry
from problems import pages
from problems.models import Follow, Report, Support


def status_changed(report: Report, change_id: int, *, told: list[int]) -> None:
    notifications.emit(
        "problems.status",
        report,
        key=f"problems:status:{report.pk}:{change_id}",
        city=report.city_id,
        data={"status": report.status},
        told=told,
    )


def _sync(user: User, report: Report, following: bool) -> None:
    if following:
        Follow.objects.get_or_create(report_id=report.pk, user=user)
    else:
        Follow.objects.filter(report_id=report.pk, user=user).delete()


def followed_reports(user: User) -> QuerySet[Report]:
    """Reports the person follows through problems' own list (filed, "me too", followed on
    the report's page), newest follow first."""
    return Report.objects.filter(follows__user=user).order_by("-follows__pk")


def report_followers(report_id: int) -> QuerySet:
    return Follow.objects.filter(report_id=report_id).values("user_id")


def visible_reports(user: User) -> QuerySet[Report]:
    return Report.objects.all()  # every report is public from filing


def export(user: User) -> dict:
    return {
        "reports_filed": list(
            Report.objects.filter(reporter=user)
            .order_by("pk")
            .values(
                "id",
                "title",
                "description",
                "address",
                "status",
                "public_name",
                "contact_name",
                "contact_email",
                "created_at",
            )
        ),
        "me_too": list(Support.objects.filter(user=user).values_list("report_id", flat=True)),
        "following": list(Follow.objects.filter(user=user).values_list("report_id", flat=True)),
    }


def erase(user: User, remove_public_name: bool) -> None:
    """Reports stay (they are the city's record); the contact details go, and the public name
    too on request. Follows go; "me too" stays counted."""
    Report.objects.filter(reporter=user).update(contact_name="", contact_email="")
    if remove_public_name:
        Report.objects.filter(reporter=user).update(public_name="")
        pages.reports_changed(Report.objects.filter(reporter=user).values_list("pk", "city_id"))
    Follow.objects.filter(user=user).delete()


def register() -> None:
    registry.register_kind(
        registry.Kind(
            "problems.status",
            "problems",
            _("Status changes of problem reports I follow"),
            _("The report's status has changed."),
            describe=lambda data: (
                _("The report's status is now: %(status)s.")
                % {"status": Report.Status(data["status"]).label}
            ),
        )
    )
    registry.register_followable(
        registry.Followable(
            "problems.report",
            "problems",
            visible_reports,
            lambda report: report.city_id,
            sync=_sync,
            followed=followed_reports,
            followers=report_followers,
        )
    )
    registry.register_data(registry.DataContribution("problems", export, erase))
