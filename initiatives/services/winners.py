"""Winner rules for approval ballots with costs, as pure functions over the tally's rows.

- `equal_shares`: the Method of Equal Shares (Peters–Skowron) with cost utilities (a
  supporter's payment is measured against the project's cost), in exact rational arithmetic
  (fractions.Fraction: MES turns on exact ties and on whether a voter can still afford a
  share), completed as Pabulib's `equalshares/add1`: each voter starts with B/n (n counts
  every ballot, empty ones too), the per-voter budget rises by one currency unit at a time,
  MES is rerun from scratch each time, and the LAST outcome whose cost stays within B is
  kept (the one just before the first that exceeds it); then greedy by votes for the money
  left. When every supported project fits, they are all taken (the loop would only end
  there). Identical ballots are grouped: they always pay alike, so grouping is exact.
- Ties, in MES and in the greedy completion: lower cost, then more votes, then earlier
  submission (TIE_BREAK). Projects without a vote never win.

Each candidate also gets an outcome for its one-sentence explanation (OUTCOMES).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

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


def _mes(
    candidates: Mapping[int, Candidate],
    groups: list[tuple[frozenset[int], int]],
    per_voter: Fraction,
) -> list[int]:
    """One run of MES with cost utilities from `per_voter` each; the projects in order."""
    budget = [per_voter] * len(groups)
    supporters: dict[int, list[int]] = {pk: [] for pk in candidates}
    for g, (ballot, _m) in enumerate(groups):
        for pk in ballot:
            if pk in supporters:
                supporters[pk].append(g)
    remaining = {pk for pk, s in supporters.items() if s}
    chosen: list[int] = []
    while remaining:
        best: tuple | None = None
        for pk in list(remaining):
            cost = candidates[pk].cost
            members = sorted(supporters[pk], key=budget.__getitem__)
            if sum(budget[g] * groups[g][1] for g in members) < cost:
                remaining.discard(pk)  # budgets only shrink: never affordable again
                continue
            left, weight, share = cost, sum(groups[g][1] for g in members), None
            for g in members:  # the equal share p with sum(m * min(budget, p)) == cost
                if left <= budget[g] * weight:
                    share = left / weight
                    break
                left -= budget[g] * groups[g][1]
                weight -= groups[g][1]
            # rho = p / cost: the price per unit of utility, the utility being the cost.
            key = (share / cost if cost else Fraction(0), tie_break(candidates[pk]))
            if best is None or key < best[0]:
                best = (key, pk, share, members)
        if best is None:
            break
        _key, pk, share, members = best
        for g in members:
            budget[g] -= min(budget[g], share)
        remaining.discard(pk)
        chosen.append(pk)
    return chosen


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
    by_id = {c.id: c for c in candidates}
    groups = [(ballot, m) for ballot, m in sorted(ballots.items(), key=lambda x: sorted(x[0]))]
    if not voters:
        return [], set()
    supported = [pk for pk, c in by_id.items() if c.votes > 0]
    if sum((by_id[pk].cost for pk in supported), Fraction(0)) <= budget:
        chosen = sorted(supported, key=lambda pk: tie_break(by_id[pk]))
        return chosen, set(chosen)
    per_voter = budget / voters
    previous: list[int] = []
    step = 0
    while True:
        outcome = _mes(by_id, groups, per_voter)
        if sum((by_id[pk].cost for pk in outcome), Fraction(0)) > budget:
            break
        previous = outcome
        step += 1
        per_voter += unit
        if progress is not None:
            progress(step)
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
