"""Winner rules for approval ballots with costs, as pure functions over the tally's rows.

- `equal_shares`: the Method of Equal Shares (Peters–Skowron) with cost utilities (a
  supporter's payment is measured against the project's cost), in exact rational arithmetic
  (fractions.Fraction: MES turns on exact ties and on whether a voter can still afford a
  share), completed as Pabulib's `equalshares/add1`: each voter starts with B/n (n counts
  every ballot, empty ones too), the per-voter budget rises by one currency unit at a time,
  MES is rerun from scratch each time, and the LAST outcome whose cost stays within B is
  kept (the one just before the first that exceeds it); then greedy by votes for the money
  left. When every supported project fits, they are all taken (the loop would only end
  there). Identical ballots are grouped: they always pay alike, so grouping is exact. The
  fast exact implementation (budget classes, lazy choice, splits reused across the add-one
  runs) is in equal_shares.py; tests/initiatives/test_winners_fast.py keeps the plain
  version it replaced and checks both agree.
- Ties, in MES and in the greedy completion: lower cost, then more votes, then earlier
  submission (TIE_BREAK). Projects without a vote never win.

Each candidate also gets an outcome for its one-sentence explanation (OUTCOMES).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from initiatives.services.equal_shares import Problem, add_one

WON, LOST_VOTES, LOST_MONEY, LOST_SHARES = "won", "votes", "money", "equal_shares"


@dataclass(frozen=True)
class Candidate:
    id: int
    cost: Fraction
    votes: int
    order: int  # submission order: the last tie-break


def tie_break(candidate: Candidate) -> tuple:
    """Lower cost, then more votes, then earlier submission."""
    return (candidate.cost, -candidate.votes, candidate.order)


def _greedy_fill(
    candidates: Mapping[int, Candidate], chosen: list[int], money: Fraction
) -> list[int]:
    """Most votes first (ties: TIE_BREAK) among the rest, each if it fits the money left."""
    taken = set(chosen)
    rest = sorted(
        (c for pk, c in candidates.items() if pk not in taken and c.votes > 0),
        key=lambda c: (-c.votes, tie_break(c)),
    )
    added = []
    for c in rest:
        if c.cost <= money:
            added.append(c.id)
            money -= c.cost
    return added


def equal_shares(
    candidates: Iterable[Candidate],
    ballots: Mapping[frozenset[int], int],
    voters: int,
    budget: Fraction,
    *,
    unit: Fraction = Fraction(1),
    progress: Callable[[int], None] | None = None,
) -> tuple[list[int], set[int]]:
    """Winners under MES + add1 + greedy completion, and which of them MES itself chose.

    `ballots` maps each distinct ballot (its project ids) to how many voters cast it;
    `voters` counts every ballot, empty ones too. `progress(k)` is told each step.
    """
    ordered = list(candidates)
    by_id = {c.id: c for c in ordered}
    if not voters:
        return [], set()
    supported = [c for c in ordered if c.votes > 0]
    if sum((c.cost for c in supported), Fraction(0)) <= budget:
        chosen = [c.id for c in sorted(supported, key=tie_break)]
        return chosen, set(chosen)
    index = {c.id: i for i, c in enumerate(ordered)}
    problem = Problem(
        [Fraction(c.cost) for c in ordered],
        [(*tie_break(c), c.id) for c in ordered],  # the id only parts exact duplicates
        (([index[pk] for pk in ballot if pk in index], m) for ballot, m in ballots.items()),
    )
    outcome = add_one(problem, Fraction(budget), voters, Fraction(unit), progress)
    previous = [ordered[p].id for p in outcome]
    spent = sum((by_id[pk].cost for pk in previous), Fraction(0))
    return previous + _greedy_fill(by_id, previous, budget - spent), set(previous)


def greedy_outcomes(ordered: list[tuple[int, int, bool]]) -> dict[int, str]:
    """Outcomes of a greedy rule from (id, votes, winner) in the order the rule considered
    them (one category, or the whole budget): a loser lost on votes unless a project
    considered after it (fewer votes) won, which means the money left was below its cost."""
    outcomes: dict[int, str] = {}
    later_winner = False
    for pk, votes, winner in reversed(ordered):
        if winner:
            outcomes[pk] = WON
        elif votes and later_winner:
            outcomes[pk] = LOST_MONEY
        else:
            outcomes[pk] = LOST_VOTES
        later_winner = later_winner or winner
    return outcomes


def equal_shares_outcomes(
    candidates: Iterable[Candidate], winners: Iterable[int]
) -> dict[int, str]:
    won = set(winners)
    return {
        c.id: WON if c.id in won else (LOST_SHARES if c.votes else LOST_VOTES) for c in candidates
    }
