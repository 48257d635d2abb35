from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaperConfig(AppConfig):
    name = "paper"
    verbose_name = _("Paper signatures and ballots")

    def ready(self) -> None:
        from opencity import reports
        from opencity.identity import services as identity
        from opencity.ledger.registry import register_decision
        from paper import backfill, selectors, services

        identity.register_offline_counter("petition", services.paper_signature_counts)
        identity.register_offline_counter("programme", services.paper_ballot_counts)
        identity.register_offline_counter("initiative", services.paper_vote_counts)
        identity.register_offline_counter("programme_ballots", services.paper_ballots)
        identity.register_backfill(backfill.claim_online_acts)
        register_decision("paper.batch.confirmed", data_keys=("counted", "voided"))
        register_decision("paper.batch.rejected")
        reports.register_activity(
            reports.ActivitySource(
                app=self.label,
                figures=(
                    reports.Figure("signatures_online", _("Petition signatures online")),
                    reports.Figure("signatures_paper", _("Petition signatures on paper")),
                    reports.Figure("ballots_online", _("Budget ballots online")),
                    reports.Figure("ballots_paper", _("Budget ballots on paper")),
                ),
                per_city=lambda date_from, date_to: selectors.city_activity(date_from, date_to),
            )
        )
