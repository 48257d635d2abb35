from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProblemsConfig(AppConfig):
    name = "problems"
    verbose_name = _("City problems")

    def ready(self) -> None:
        from opencity import reports
        from problems import notices, pages, selectors

        notices.register()
        pages.connect()

        reports.register_activity(
            reports.ActivitySource(
                app=self.label,
                figures=(
                    reports.Figure("filed", _("Problem reports filed")),
                    reports.Figure("answered", _("Problem reports answered")),
                    reports.Figure(
                        "answered_on_time",
                        _("Problem reports answered on time"),
                        column_label=_("Problems answered on time"),
                    ),
                    reports.Figure(
                        "median_answer_hours",
                        _("Median hours to answer a problem report"),
                        column_label=_("Median hours to answer"),
                        summary=False,
                        decimal=True,
                    ),
                ),
                # Looked up at call time, so that tests may replace the selector.
                per_city=lambda date_from, date_to: selectors.city_activity(date_from, date_to),
            )
        )

        from opencity.ledger.registry import register_decision
        from problems.models import Report

        # Public decisions recorded in the public ledger (opencity/ledger): filing (a report is
        # public from filing), every status change (a rejection with its reason, which the
        # report's timeline shows), a duplicate with its original, the answering department,
        # and moderation (text or photo hidden or shown again; the reason stays private).
        # "Me too" acts reach the ledger through the trigger of 0003_supports_to_ledger.
        register_decision("problems.report.filed")
        for status in Report.Status.values:
            register_decision(
                f"problems.report.{status}",
                with_reason=status == Report.Status.REJECTED,
                data_keys=("duplicate_of",) if status == Report.Status.DUPLICATE else (),
            )
        register_decision("problems.report.reopened")
        register_decision("problems.report.assigned", data_keys=("department",))
        register_decision("problems.report.text_hidden")
        register_decision("problems.report.text_shown")
        register_decision("problems.photo.hidden", data_keys=("photo",))
        register_decision("problems.photo.shown", data_keys=("photo",))
