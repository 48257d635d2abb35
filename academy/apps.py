from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AcademyConfig(AppConfig):
    name = "academy"
    verbose_name = _("E-City Academy")

    def ready(self) -> None:
        from opencity.ledger.registry import register_decision

        # The waitlist in the public ledger: registrations (seated or waitlisted), cancellations
        # and promotions, by registration number only, so nobody can reorder it unseen.
        register_decision("academy.register")
        register_decision("academy.cancel")
        register_decision("academy.promote")
