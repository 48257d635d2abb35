from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaperConfig(AppConfig):
    name = "paper"
    verbose_name = _("Paper signatures and ballots")

    def ready(self) -> None:
        from opencity.identity import services as identity
        from opencity.ledger.registry import register_decision
        from paper import backfill, services

        identity.register_offline_counter("petition", services.paper_signature_counts)
        identity.register_offline_counter("programme", services.paper_ballot_counts)
        identity.register_offline_counter("initiative", services.paper_vote_counts)
        identity.register_offline_counter("programme_ballots", services.paper_ballots)
        identity.register_backfill(backfill.claim_online_acts)
        register_decision("paper.batch.confirmed", data_keys=("counted", "voided"))
        register_decision("paper.batch.rejected")
