"""The Method of Equal Shares with add-one completion, fast and exact (used by winners.py).

Exactness: money is kept as integers over a common denominator (prices as Fractions);
nothing is rounded. Floats only order budgets and settle "can they afford it" when the
answer is far from the edge (see _Money.share); every close call is decided exactly.

Speed comes from sharing work that does not depend on the voters' starting budget:

- Voters with the same ballot are one group (weight = how many). During a run a group's
  budget depends only on which of the projects picked so far it approves (each pick takes
  the same share from all its payers), so groups fall into budget classes, one per subset
  of the picks, and a project's supporters are kept as {class: weight}: an equal share is
  computed over a few classes instead of every voter.
- How a pick splits the classes (which groups move where, for every project) depends only
  on the set of projects picked before and the one picked, not on the budgets, so it is
  computed once and replayed by the next add-one run that picks alike; successive runs
  mostly do. Splits not used by the last run are forgotten (memory stays bounded).
- Lazy choice: a project's price per unit of utility (rho) never falls during a run (budgets
  only shrink), so the last rho computed for it is a lower bound; a project is chosen as
  soon as its current rho (with the tie-break) is not above every other lower bound.
- A run stops as soon as what it picked costs more than the budget: add-one stops there.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

ROOT = 0  # the class of every group before any pick


@dataclass(frozen=True)
class Split:
    """What picking a project does to the classes after a given sequence of picks."""

    # For each class among the project's supporters: their new class, and for each other
    # project still open, how many of them support it (they move with them).
    classes: list[tuple[int, int, list[tuple[int, int]]]]
    touched: frozenset[int]  # the projects whose supporters moved


class Problem:
    """What every run shares: costs, tie-break keys, the grouped ballots (projects by index)
    and the splits met so far."""

    def __init__(
        self,
        costs: list[Fraction],
        ties: list[tuple],
        ballots: Iterable[tuple[Iterable[int], int]],
    ) -> None:
        self.costs = costs
        self.ties = ties
        merged: dict[tuple[int, ...], int] = {}
        for picks, m in ballots:
            key = tuple(sorted(set(picks)))
            if key and m:
                merged[key] = merged.get(key, 0) + m
        self.ballots = list(merged)
        self.weights = list(merged.values())
        self.supporters: list[list[int]] = [[] for _ in costs]
        for g, picks in enumerate(self.ballots):
            for p in picks:
                self.supporters[p].append(g)
        self.votes = [sum(self.weights[g] for g in s) for s in self.supporters]
        self._classes: dict[frozenset[int], int] = {frozenset(): ROOT}
        self._splits: dict[tuple[frozenset[int], int], Split] = {}  # this run's
        self._last: dict[tuple[frozenset[int], int], Split] = {}  # the run before's

    def new_run(self) -> None:
        self._last, self._splits = self._splits, {}

    def _class(self, paid: frozenset[int]) -> int:
        return self._classes.setdefault(paid, len(self._classes))

    def split(self, picked: Iterable[int], p: int) -> Split:
        """The split made by picking p after `picked` (computed once, then remembered)."""
        done = frozenset(picked)
        key = (done, p)  # the classes depend on which projects were picked, not the order
        known = self._splits.get(key) or self._last.get(key)
        if known is not None:
            self._splits[key] = known
            return known
        classes: dict[int, tuple[int, dict[int, int]]] = {}
        for g in self.supporters[p]:
            ballot = self.ballots[g]
            paid = frozenset(q for q in ballot if q in done)
            old = self._class(paid)
            if old not in classes:
                classes[old] = (self._class(paid | {p}), {})
            moves = classes[old][1]
            for q in ballot:
                if q != p and q not in done:
                    moves[q] = moves.get(q, 0) + self.weights[g]
        split = Split(
            [(old, new, list(moves.items())) for old, (new, moves) in classes.items()],
            frozenset(q for _new, moves in classes.values() for q in moves),
        )
        self._splits[key] = split
        return split


class _Money:
    """The budget classes with money left in one run, exact: each budget is an integer over
    the denominator current when it was set. Denominators only grow, each a multiple of
    the ones before, so every amount is an integer over the current one (`scale`)."""

    def __init__(self, start: Fraction, costs: list[Fraction]) -> None:
        denominator = math.lcm(start.denominator, *(c.denominator for c in costs))
        self.denominators = [denominator]
        self.scale = [1]  # current denominator // each level's
        self.costs = [int(c * denominator) for c in costs]  # over the first denominator
        self.amount = {ROOT: int(start * denominator)}
        self.level = {ROOT: 0}
        self.rough = {ROOT: float(start)}  # correctly rounded: see share()

    def share(self, p: int, held: dict[int, int]) -> tuple[int, int, set[int]] | None:
        """p's equal share as (numerator, denominator) (the sum of min(budget, share) over
        its supporters is its cost) and the classes that pay all they have; None when
        they cannot pay for it together. `held`: p's supporters' classes with money left.
        Floats, correctly rounded, only order the classes (rounding never inverts an
        order; equal floats are ordered exactly) and settle affordability when far from
        the cost."""
        if not self.costs[p]:
            return 0, 1, set()
        amount, level, scale, rough = self.amount, self.level, self.scale, self.rough
        cost = self.costs[p] * scale[0]
        approx, bound = 0.0, cost / self.denominators[-1]
        for c, w in held.items():
            approx += rough[c] * w
        margin = (approx + bound) * (len(held) + 8) * 2.0**-52  # far above rounding errors
        if approx < bound - margin:
            return None
        if approx <= bound + margin:
            exact = sum(amount[c] * scale[level[c]] * w for c, w in held.items())
            if exact < cost:
                return None
        order = sorted(held, key=rough.__getitem__)
        found = self._pay_in_order(cost, held, order)
        if found is None:  # the order among equal floats mattered: order them exactly
            order.sort(key=lambda c: (rough[c], amount[c] * scale[level[c]]))
            found = self._pay_in_order(cost, held, order, exact=True)
        assert found is not None
        left, weight, exhausted = found
        common = math.gcd(left, weight)
        return left // common, weight // common * self.denominators[-1], exhausted

    def _pay_in_order(
        self, cost: int, held: dict[int, int], order: list[int], exact: bool = False
    ) -> tuple[int, int, set[int]] | None:
        """Poorest first, the classes that pay all they have, until the rest can pay the
        remainder equally: (remainder, weight of the rest, the exhausted). None when the
        rest begins among classes of equal floats (their order might not be exact)."""
        amount, level, scale, rough = self.amount, self.level, self.scale, self.rough
        left, weight = cost, sum(held.values())
        exhausted: set[int] = set()
        for i, c in enumerate(order):
            value = amount[c] * scale[level[c]]
            if left <= value * weight:
                if not exact and rough[c] in (
                    rough[order[i - 1]] if i else None,
                    rough[order[i + 1]] if i + 1 < len(order) else None,
                ):
                    return None
                break
            left -= value * held[c]
            weight -= held[c]
            exhausted.add(c)
        return left, weight, exhausted

    def pay(
        self,
        split: Split,
        held: list[dict[int, int]],
        due: tuple[int, int, set[int]],
    ) -> None:
        """The payers of a share pay it, or all they have: the new classes of `split`, and
        the supporters of the other projects (`held`) move with them."""
        numerator, denominator, exhausted = due
        current = math.lcm(self.denominators[-1], denominator)
        if current != self.denominators[-1]:
            self.denominators.append(current)
            self.scale = [current // d for d in self.denominators]
        share = numerator * (current // denominator)
        amount, level, scale, rough = self.amount, self.level, self.scale, self.rough
        top = len(self.denominators) - 1
        for old, new, moves in split.classes:
            if old not in amount:
                continue  # a class without money stays without: nobody tracks it
            if old not in exhausted:
                left = amount[old] * scale[level[old]] - share
                if left > 0:
                    amount[new], level[new], rough[new] = left, top, left / current
            funded = new in amount
            for q, w in moves:
                row = held[q]
                if row[old] == w:
                    del row[old]
                else:
                    row[old] -= w
                if funded:
                    row[new] = row.get(new, 0) + w


def run(problem: Problem, start: Fraction, limit: Fraction) -> list[int]:
    """One MES run with every voter starting at `start`: the projects in the order picked.
    It stops early once they cost more than `limit`."""
    problem.new_run()
    costs, ties = problem.costs, problem.ties
    money = _Money(start, costs)
    held: list[dict[int, int]] = [{ROOT: v} if v else {} for v in problem.votes]
    found: dict[int, tuple[int, int, set[int]]] = {}  # shares at this stage

    def price(p: int) -> Fraction | None:
        result = money.share(p, held[p])
        if result is None:
            return None
        found[p] = result
        return Fraction(result[0], result[1]) / costs[p] if costs[p] else Fraction(0)

    heap: list[tuple[Fraction, tuple, int]] = []
    for p in range(len(costs)):
        if problem.votes[p]:
            rho = price(p)
            if rho is not None:
                heap.append((rho, ties[p], p))
    heapq.heapify(heap)
    fresh = set(found)  # whose entry in the heap is its current rho, not only a bound
    chosen: list[int] = []
    spent = Fraction(0)
    while heap:
        _rho, tie, p = heapq.heappop(heap)
        if p not in fresh:
            rho = price(p)
            if rho is None:
                continue  # budgets only shrink: out of reach for the rest of the run
            fresh.add(p)
            if heap and (rho, tie) > heap[0][:2]:
                heapq.heappush(heap, (rho, tie, p))
                continue
        split = problem.split(chosen, p)
        chosen.append(p)
        spent += costs[p]
        if spent > limit:
            break
        money.pay(split, held, found[p])
        fresh -= split.touched | {p}
    return chosen


def add_one(
    problem: Problem,
    budget: Fraction,
    voters: int,
    unit: Fraction,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Pabulib's equalshares/add1: every voter starts at B/n, raised by `unit` a step, MES
    rerun each time; the last outcome that costs at most B is kept."""
    start = budget / voters
    previous: list[int] = []
    step = 0
    while True:
        outcome = run(problem, start + step * unit, budget)
        if sum((problem.costs[p] for p in outcome), Fraction(0)) > budget:
            return previous
        previous = outcome
        step += 1
        if progress is not None:
            progress(step)
