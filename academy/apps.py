from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AcademyConfig(AppConfig):
    name = "academy"
    verbose_name = _("E-City Academy")

    def ready(self) -> None:
        from academy import notices, selectors
        from opencity import reports

        notices.register()

        # Looked up at call time, so that tests may replace the selector.
        def per_city(date_from, date_to):
            return selectors.training_stats(date_from=date_from, date_to=date_to, by="city")

        def totals(date_from, date_to):
            stats = selectors.training_stats(date_from=date_from, date_to=date_to, by="total")
            return stats.get("total") or {}

        reports.register_activity(
            reports.ActivitySource(
                app=self.label,
                figures=(
                    reports.Figure("sessions_held", _("Training sessions held"), per_city=False),
                    reports.Figure(
                        "people_trained", _("People trained"), column_label=_("Staff trained")
                    ),
                    reports.Figure("hours", _("Training hours"), per_city=False, decimal=True),
                ),
                per_city=per_city,
                totals=totals,
            )
        )
        reports.register_section(
            "city",
            reports.Section(
                app=self.label,
                template="academy/_city_profile.html",
                items=lambda city: selectors.trainings_for_city(city)[:10],
            ),
        )
        reports.register_section(
            "eproduct",
            reports.Section(
                app=self.label,
                template="academy/_eproduct_experts.html",
                items=selectors.public_experts_for_product,
            ),
        )

        from opencity.ledger.registry import register_decision

        # The waitlist in the public ledger: registrations (seated or waitlisted), cancellations
        # and promotions, by registration number, session and place on the waitlist (never the
        # person), so nobody can reorder a waitlist unseen.
        place = ("session", "waitlist_position")
        register_decision("academy.registration.registered", data_keys=place)
        register_decision("academy.registration.cancelled", data_keys=place)
        register_decision("academy.registration.promoted", data_keys=place)
