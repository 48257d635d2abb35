from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InitiativesConfig(AppConfig):
    name = "initiatives"
    verbose_name = _("Civic initiatives")

    def ready(self) -> None:
        from initiatives import notices, selectors
        from opencity import reports

        notices.register()

        reports.register_activity(
            reports.ActivitySource(
                app=self.label,
                figures=(
                    reports.Figure("submitted", _("Initiatives submitted")),
                    reports.Figure("funded", _("Initiatives funded")),
                ),
                # Looked up at call time, so that tests may replace the selector.
                per_city=lambda date_from, date_to: selectors.city_activity(date_from, date_to),
            )
        )
        reports.register_section(
            "city",
            reports.Section(
                app=self.label,
                template="initiatives/_city_profile.html",
                items=lambda city: selectors.open_initiatives_for_city(city, limit=5),
            ),
        )

        from opencity.ledger.registry import register_decision

        # Public decisions recorded in the public ledger (opencity/ledger), moderation included
        # as for petitions and problem reports. A revision request's comment and the reason for
        # hiding a photo are free text for the author or the audit log: they stay out.
        register_decision("initiatives.initiative.accepted")
        register_decision("initiatives.initiative.revision_requested")
        register_decision("initiatives.initiative.rejected", with_reason=True)
        register_decision("initiatives.photo.hidden", data_keys=("photo",))
        register_decision("initiatives.photo.shown", data_keys=("photo",))
        register_decision("initiatives.snapshot.recorded", data_keys=("hash", "votes"))
        register_decision("initiatives.snapshot.published", data_keys=("winners",))

        from initiatives import pages

        pages.connect()
