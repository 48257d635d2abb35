from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionsConfig(AppConfig):
    name = "petitions"
    verbose_name = _("Petitions")

    def ready(self) -> None:
        from opencity import reports
        from opencity.core.transitions import on_transition
        from petitions import data, pages, selectors
        from petitions.models import Petition

        data.register()
        # Every status change rebuilds the petition's cached page and the lists.
        on_transition(Petition, lambda petition, _entry: pages.petition_changed(petition.pk))

        reports.register_activity(
            reports.ActivitySource(
                app=self.label,
                figures=(
                    reports.Figure("filed", _("Petitions filed")),
                    reports.Figure("published", _("Petitions published")),
                    reports.Figure(
                        "reached_threshold",
                        _("Petitions that reached the threshold"),
                        per_city=False,
                    ),
                    reports.Figure(
                        "answered_on_time",
                        _("Petitions answered on time"),
                        column_label=_("Answered on time"),
                    ),
                    reports.Figure(
                        "answered_late",
                        _("Petitions answered late"),
                        column_label=_("Answered late"),
                    ),
                ),
                # Looked up at call time, so that tests may replace the selector.
                per_city=lambda date_from, date_to: selectors.city_activity(date_from, date_to),
            )
        )
        reports.register_section(
            "city",
            reports.Section(
                app=self.label,
                template="petitions/_city_profile.html",
                items=lambda city: selectors.open_petitions_for_city(city, limit=5),
            ),
        )

        from opencity.ledger.registry import register_decision

        # Public decisions recorded in the public ledger (opencity/ledger).
        register_decision("petitions.petition.published")
        register_decision("petitions.petition.rejected", with_reason=True)
        register_decision("petitions.petition.reached")
        register_decision("petitions.petition.answered")
        register_decision("petitions.petition.closed")
