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
