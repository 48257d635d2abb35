from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionsConfig(AppConfig):
    name = "petitions"
    verbose_name = _("Petitions")

    def ready(self) -> None:
        from opencity.ledger.registry import register_decision

        # Public decisions recorded in the public ledger (opencity/ledger).
        register_decision("petition.publish")
        register_decision("petition.reject", with_reason=True)
        register_decision("petition.reached")
        register_decision("petition.respond")
        register_decision("petition.close")
