"""One sentence per result outcome, for the results page, the exports and the author's
e-mail. Outcomes are decided by the tally (initiatives.services.winners)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from initiatives.models import Outcome

EXPLANATIONS = {
    Outcome.WON: _("Won: residents backed it and it fits the budget, so it will be funded."),
    Outcome.VOTES: _(
        "Lost on votes: the projects with more votes used up the budget before its turn."
    ),
    Outcome.MONEY: _(
        "Lost on cost: when its turn came, the money left was less than its cost, and a "
        "cheaper project with fewer votes was funded instead."
    ),
    Outcome.EQUAL_SHARES: _(
        "Lost under equal shares: its supporters' shares of the budget were spent on "
        "projects they preferred, and what was left did not cover its cost."
    ),
}


def explanation(outcome: str) -> str:
    return str(EXPLANATIONS.get(outcome, ""))
