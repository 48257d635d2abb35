from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InitiativesConfig(AppConfig):
    name = "initiatives"
    verbose_name = _("Civic initiatives")

    def ready(self) -> None:
        from opencity.ledger.registry import register_decision

        # Public decisions recorded in the public ledger (opencity/ledger).
        register_decision("initiative_accepted")
        register_decision("initiative_rejected", with_reason=True)
        register_decision("tally_recorded", data_keys=("hash", "votes"))
        register_decision("results_published", data_keys=("winners",))
