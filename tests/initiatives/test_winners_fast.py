"""The fast Method of Equal Shares (initiatives.services.equal_shares) gives exactly what
the straightforward exact rule it replaced gives: the same winners in the same order, the
same projects picked by MES itself and one progress report per add-one step, on random
instances with forced ties, many identical voters, fractional and zero costs."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

from initiatives.services.winners import Candidate, _greedy_fill, equal_shares, tie_break


# --- the rule as it was (main before the fast version), kept as the reference -----------
def _reference_mes(candidates, groups, per_voter):
    """One run of MES, every voter (not class) tracked, every project recomputed."""
    budget = [per_voter] * len(groups)
    supporters = {pk: [] for pk in candidates}
    for g, (ballot, _m) in enumerate(groups):
        for pk in ballot:
            if pk in supporters:
                supporters[pk].append(g)
    remaining = {pk for pk, s in supporters.items() if s}
    chosen = []
    while remaining:
        best = None
        for pk in list(remaining):
            cost = candidates[pk].cost
            members = sorted(supporters[pk], key=budget.__getitem__)
            if sum(budget[g] * groups[g][1] for g in members) < cost:
                remaining.discard(pk)
                continue
            left, weight, share = cost, sum(groups[g][1] for g in members), None
            for g in members:
                if left <= budget[g] * weight:
                    share = left / weight
                    break
                left -= budget[g] * groups[g][1]
                weight -= groups[g][1]
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


def _reference(candidates, ballots, voters, budget, unit):
    """MES rerun from scratch at B/n, B/n + unit, ...; the last outcome within B, then
    greedy. Also the number of add-one steps (progress reports)."""
    by_id = {c.id: c for c in candidates}
    groups = sorted(ballots.items(), key=lambda x: sorted(x[0]))
    supported = [pk for pk, c in by_id.items() if c.votes > 0]
    if sum((by_id[pk].cost for pk in supported), Fraction(0)) <= budget:
        chosen = sorted(supported, key=lambda pk: tie_break(by_id[pk]))
        return chosen, set(chosen), 0
    per_voter, previous, steps = budget / voters, [], 0
    while True:
        outcome = _reference_mes(by_id, groups, per_voter)
        if sum((by_id[pk].cost for pk in outcome), Fraction(0)) > budget:
            break
        previous, steps, per_voter = outcome, steps + 1, per_voter + unit
    spent = sum((by_id[pk].cost for pk in previous), Fraction(0))
    return previous + _greedy_fill(by_id, previous, budget - spent), set(previous), steps


def _instance(rng: random.Random, max_voters: int, distinct: int | None = None):
    n_projects = rng.randint(1, 15)
    price_list = [rng.choice([10, 20, 25, 40, 50, 100]) for _ in range(3)]  # cost ties
    factors = [1, 1, 2, 3, 0] if rng.random() < 0.1 else [1, 1, 2, 3]  # 0: free projects
    costs = [Fraction(rng.choice(price_list) * rng.choice(factors)) for _ in range(n_projects)]
    if rng.random() < 0.2:
        costs = [c / rng.choice([1, 3, 7]) for c in costs]
    popular = [rng.sample(range(n_projects), rng.randint(0, n_projects)) for _ in range(3)]
    pool = None
    if distinct:  # many voters, few distinct ballots
        pool = [frozenset(rng.sample(range(n_projects), rng.randint(0, n_projects)))]
        pool += [
            frozenset(rng.sample(range(n_projects), rng.randint(1, min(3, n_projects))))
            for _ in range(distinct)
        ]
    ballots = []
    for _ in range(rng.randint(1, max_voters)):
        if pool:
            ballots.append(rng.choice(pool))
        elif rng.random() < 0.5:  # identical ballots: ties in votes and shares
            ballots.append(frozenset(rng.choice(popular)))
        else:
            ballots.append(frozenset(rng.sample(range(n_projects), rng.randint(0, n_projects))))
    votes = Counter(pk for ballot in ballots for pk in ballot)
    order = rng.sample(range(n_projects), n_projects)  # submission order unlike the ids
    candidates = [
        Candidate(id=pk, cost=costs[pk], votes=votes[pk], order=order[pk])
        for pk in range(n_projects)
    ]
    top = int(max(costs))
    budget = Fraction(rng.randint(top // 2, int(sum(costs)) + 10), rng.choice([1, 1, 1, 3]))
    unit = rng.choice([Fraction(1), Fraction(1), Fraction(1, 2), Fraction(5)])
    return candidates, ballots, budget, unit


def _check(candidates, ballots, budget, unit, label):
    counted = Counter(ballots)
    steps = []
    winners, by_mes = equal_shares(
        candidates, counted, len(ballots), budget, unit=unit, progress=steps.append
    )
    expected, expected_mes, expected_steps = _reference(
        candidates, counted, len(ballots), budget, unit
    )
    assert (winners, by_mes) == (expected, expected_mes), label
    assert steps == list(range(1, expected_steps + 1)), label


def test_fast_equal_shares_is_the_exact_rule_on_random_instances():
    rng = random.Random(20261205)
    for n in range(300):
        _check(*_instance(rng, 120), f"instance {n}")


def test_fast_equal_shares_is_the_exact_rule_with_many_identical_voters():
    rng = random.Random(5122026)
    for n in range(100):
        _check(*_instance(rng, 5000, distinct=rng.randint(1, 12)), f"instance {n}")


def test_fast_equal_shares_breaks_exact_ties_like_the_rule():
    # Two projects alike in cost, votes and supporters' budgets: submission order decides,
    # at every step of add-one, whatever the ids.
    a = Candidate(id=7, cost=Fraction(30), votes=3, order=2)
    b = Candidate(id=3, cost=Fraction(30), votes=3, order=1)
    c = Candidate(id=5, cost=Fraction(40), votes=2, order=3)
    ballots = [frozenset({7, 3})] * 3 + [frozenset({5})] * 2
    _check([a, b, c], ballots, Fraction(70), Fraction(1), "ties")
    winners, _ = equal_shares([a, b, c], Counter(ballots), 5, Fraction(70))
    assert winners[0] == 3
