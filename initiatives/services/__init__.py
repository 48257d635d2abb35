"""Workflows of public budgets, by what they do:

- `proposals`: an author files, revises or withdraws an initiative;
- `photos`: its photos (private originals, metadata-free public versions, hiding);
- `review`: the city's working group accepts, sends back or rejects it;
- `stages`: the programme calendar (extensions, announcements);
- `rules`: the rules and budgets frozen when voting starts;
- `ballots`: review, confirm and receipt of a whole ballot;
- `eligibility`: verified age and residency (identity provider or a clerk's check);
- `voting`: who may vote and casting a vote (`vote_statements`: its SQL);
- `tally`: counting, the result snapshot and its publication;
- `implementation`: updates on funded projects and the voter e-mails.

Every status change is one `opencity.core.transitions.transition()` or a conditional
`update()` that claims its row once, with an audit entry in the same transaction; a rule that
refuses raises `opencity.core.Refused`. `from initiatives import services` keeps working:
the public functions are re-exported here.
"""

from initiatives.services.ballots import (
    Receipt,
    ballot_check_voter,
    ballot_confirm,
    ballot_receipt,
    ballot_review,
)
from initiatives.services.eligibility import eligibility_confirm, verified_facts
from initiatives.services.implementation import (
    implementation_update_post,
    notify_voters_of_completion,
    pending_voter_notifications,
)
from initiatives.services.photos import (
    pending_photo_ids,
    photo_hide,
    photo_process,
    photos_add,
)
from initiatives.services.proposals import (
    CostLineInput,
    initiative_resubmit,
    initiative_submit,
    initiative_withdraw,
)
from initiatives.services.review import (
    initiative_accept,
    initiative_reject,
    initiative_request_revision,
)
from initiatives.services.rules import (
    RULES_FROZEN,
    frozen_rules,
    programme_freeze_rules,
    refuse_if_frozen,
)
from initiatives.services.stages import programme_announce_stage, programme_extend_stage
from initiatives.services.tally import (
    TallyRow,
    notify_voters_of_results,
    pick_winners,
    programmes_due_for_tally,
    results_publish,
    tally_programme,
    tally_request,
)
from initiatives.services.voting import (
    ballot_set_notify,
    vote_cast,
    vote_cast_for,
    vote_check_voter,
)

__all__ = [
    "RULES_FROZEN",
    "CostLineInput",
    "Receipt",
    "TallyRow",
    "ballot_check_voter",
    "ballot_confirm",
    "ballot_receipt",
    "ballot_review",
    "ballot_set_notify",
    "eligibility_confirm",
    "frozen_rules",
    "implementation_update_post",
    "initiative_accept",
    "initiative_reject",
    "initiative_request_revision",
    "initiative_resubmit",
    "initiative_submit",
    "initiative_withdraw",
    "notify_voters_of_completion",
    "notify_voters_of_results",
    "pending_photo_ids",
    "pending_voter_notifications",
    "photo_hide",
    "photo_process",
    "photos_add",
    "pick_winners",
    "programme_announce_stage",
    "programme_extend_stage",
    "programme_freeze_rules",
    "programmes_due_for_tally",
    "refuse_if_frozen",
    "results_publish",
    "tally_programme",
    "tally_request",
    "verified_facts",
    "vote_cast",
    "vote_cast_for",
    "vote_check_voter",
]
