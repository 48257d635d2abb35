"""Winner rules: the Method of Equal Shares with add-one completion checked against the
reference library pabutools on random instances; the explanation of every outcome."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest

from initiatives.services.winners import (
    LOST_MONEY,
    LOST_SHARES,
    LOST_VOTES,
    WON,
    Candidate,
    equal_shares,
    equal_shares_outcomes,
    greedy_outcomes,
)

pabutools = pytest.importorskip("pabutools")


def _reference(candidates, ballots, budget):
    """pabutools: exhaustion_by_budget_increase(MES, budget_step=n, exhaustive_stop=False),
    then greedy, with Cost_Sat and our tie rule. Only supported projects are given to it:
    under our rule a project without a vote never wins (pabutools' greedy would add it)."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
    from pabutools.rules import (
        completion_by_rule_combination,
        exhaustion_by_budget_increase,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )
    from pabutools.tiebreaking import TieBreakingRule

    supported = [c for c in candidates if c.votes]
    projects = {c.id: Project(f"p{c.id:03d}", c.cost) for c in supported}
    by_name = {f"p{c.id:03d}": c for c in supported}
    instance = Instance(projects.values(), budget_limit=budget)
    profile = ApprovalProfile(
        [ApprovalBallot([projects[pk] for pk in ballot]) for ballot in ballots],
        instance=instance,
    )
    tie = TieBreakingRule(
        lambda _i, _p, project: (
            project.cost,
            -by_name[project.name].votes,
            by_name[project.name].order,
        )
    )
    outcome = completion_by_rule_combination(
        instance,
        profile,
        [exhaustion_by_budget_increase, greedy_utilitarian_welfare],
        [
            {
                "rule": method_of_equal_shares,
                "rule_params": {"sat_class": Cost_Sat, "tie_breaking": tie},
                "budget_step": len(ballots),
                "exhaustive_stop": False,
            },
            {"sat_class": Cost_Sat, "tie_breaking": tie},
        ],
    )
    return sorted(by_name[p.name].id for p in outcome)


def _instance(rng: random.Random):
    n_projects = rng.randint(1, 15)
    n_voters = rng.randint(1, 60)
    price_list = [rng.choice([10, 20, 25, 40, 50, 100]) for _ in range(3)]  # forced cost ties
    costs = [rng.choice(price_list) * rng.choice([1, 1, 2, 3]) for _ in range(n_projects)]
    popular = [rng.sample(range(n_projects), rng.randint(0, n_projects)) for _ in range(3)]
    ballots = []
    for _ in range(n_voters):
        if rng.random() < 0.4:  # identical ballots: forced ties in votes and shares
            ballots.append(frozenset(rng.choice(popular)))
        else:
            ballots.append(frozenset(rng.sample(range(n_projects), rng.randint(0, n_projects))))
    votes = Counter(pk for ballot in ballots for pk in ballot)
    candidates = [
        Candidate(id=pk, cost=Fraction(costs[pk]), votes=votes[pk], order=pk)
        for pk in range(n_projects)
    ]
    budget = Fraction(rng.randint(max(costs) // 2, sum(costs) + 10))
    return candidates, ballots, budget


def test_equal_shares_matches_pabutools_on_random_instances():
    rng = random.Random(20261204)
    for n in range(220):
        candidates, ballots, budget = _instance(rng)
        winners, _mes = equal_shares(candidates, Counter(ballots), len(ballots), budget)
        assert sorted(winners) == _reference(candidates, ballots, budget), f"instance {n}"
        assert sum(c.cost for c in candidates if c.id in winners) <= budget


def test_equal_shares_funds_a_minority_that_greedy_would_ignore():
    # 6 voters want A, B and C, 4 voters want D; each costs 1, the budget is 3. Greedy by
    # votes funds A, B, C. Equal shares gives the 4 their share: MES picks A and D, the
    # next step (1.3 each) would overspend, so greedy completes with B.
    a, b, c = (Candidate(pk, Fraction(1), 6, pk) for pk in (1, 2, 3))
    d = Candidate(4, Fraction(1), 4, 4)
    ballots = Counter({frozenset({1, 2, 3}): 6, frozenset({4}): 4})
    winners, by_mes = equal_shares([a, b, c, d], ballots, 10, Fraction(3))
    assert sorted(winners) == [1, 2, 4] and by_mes == {1, 4}


def test_every_supported_project_is_taken_when_all_fit():
    cands = [Candidate(1, Fraction(10), 1, 1), Candidate(2, Fraction(10), 0, 2)]
    winners, _ = equal_shares(cands, Counter({frozenset({1}): 1, frozenset(): 3}), 4, Fraction(50))
    assert winners == [1]


def test_each_outcome_has_its_explanation():
    # Considered in this order: 1 won, 2 too dear while 3 (fewer votes) won, 4 lost on votes.
    assert greedy_outcomes([(1, 9, True), (2, 7, False), (3, 5, True), (4, 2, False)]) == {
        1: WON,
        2: LOST_MONEY,
        3: WON,
        4: LOST_VOTES,
    }
    cands = [Candidate(1, Fraction(5), 3, 1), Candidate(2, Fraction(5), 2, 2)]
    cands.append(Candidate(3, Fraction(5), 0, 3))
    assert equal_shares_outcomes(cands, [1]) == {1: WON, 2: LOST_SHARES, 3: LOST_VOTES}


# --- through the tally, the results page and the author's e-mail ---------------------------
@pytest.mark.django_db
def test_equal_shares_tally_explains_every_project_on_the_page_and_in_the_e_mail(
    client, city_a, moderator_a, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from initiatives.models import Programme
    from initiatives.services import results_publish, tally_programme
    from opencity.core.models import OutboundEmail
    from tests.initiatives.factories import (
        make_category,
        make_initiative,
        make_programme,
        make_voter,
    )
    from tests.initiatives.test_ballot import confirm

    programme = make_programme(
        city_a, stage="voting", max_votes=3, total_budget="300", winner_rule="equal_shares"
    )
    category = make_category(programme, budget="300", max_cost="100")
    a, b, c = (make_initiative(programme, category, cost="100", title=t) for t in "ABC")
    d = make_initiative(programme, category, cost="100", title="D")
    quiet = make_initiative(programme, category, cost="100", title="Тихий")
    for _ in range(6):
        confirm(make_voter(city_a), programme, [a, b, c])
    for _ in range(4):
        confirm(make_voter(city_a), programme, [d])
    steps = []
    snapshot = tally_programme(programme_id=programme.pk, force=True, progress=steps.append)
    rows = {r.initiative_id: r for r in snapshot.rows.all()}
    assert {pk for pk, r in rows.items() if r.winner} == {a.pk, b.pk, d.pk}
    assert rows[c.pk].outcome == "equal_shares" and rows[quiet.pk].outcome == "votes"
    assert steps == list(range(1, len(steps) + 1)) and steps  # one report per add-one step
    with django_capture_on_commit_callbacks(execute=True):
        results_publish(snapshot=snapshot, actor=moderator_a)
    page = client.get(reverse("initiatives:results", args=[programme.slug])).content.decode()
    assert "Переміг" in page and "рівних часток" in page and "голосами" in page
    c_mail = OutboundEmail.objects.get(to=c.author.email)
    assert "рівних часток" in c_mail.body_text
    assert Programme.objects.get(pk=programme.pk).frozen_rules.winner_rule == "equal_shares"


@pytest.mark.django_db
def test_greedy_tally_says_a_project_lost_on_cost_when_a_cheaper_one_won(
    city_a, moderator_a, django_capture_on_commit_callbacks
):
    from initiatives.services import results_publish, tally_programme
    from opencity.core.models import OutboundEmail
    from tests.initiatives.factories import (
        make_category,
        make_initiative,
        make_programme,
        make_voter,
    )
    from tests.initiatives.test_ballot import confirm

    programme = make_programme(
        city_a, stage="voting", max_votes=3, total_budget="1000", winner_rule="budget_greedy"
    )
    category = make_category(programme, budget="1000", max_cost="1000")
    big = make_initiative(programme, category, cost="700")
    dear = make_initiative(programme, category, cost="400")
    small = make_initiative(programme, category, cost="300")
    last = make_initiative(programme, category, cost="100")
    for n in range(3):
        confirm(make_voter(city_a), programme, [big, dear, small][: 3 - n])
    confirm(make_voter(city_a), programme, [big])
    snapshot = tally_programme(programme_id=programme.pk, force=True)
    outcomes = dict(snapshot.rows.values_list("initiative_id", "outcome"))
    assert outcomes == {big.pk: "won", dear.pk: "money", small.pk: "won", last.pk: "votes"}
    with django_capture_on_commit_callbacks(execute=True):
        results_publish(snapshot=snapshot, actor=moderator_a)
    mail = OutboundEmail.objects.get(to=dear.author.email)
    assert "дешевший" in mail.body_text
    assert "Переміг" in OutboundEmail.objects.get(to=big.author.email).body_text
