"""A clerk and the same person online at the same moment, on PostgreSQL: exactly one act is
counted, the other gets the worded refusal."""

import threading

import pytest
from django.db import connection

from initiatives.services.ballots import ballot_confirm
from initiatives.services.voting import vote_cast
from opencity.core import Refused
from opencity.identity.keys import DocumentType
from opencity.identity.models import CountedAct
from opencity.identity.services import person_key_confirm
from paper.models import Line
from petitions.models import Signature
from petitions.services import petition_sign
from tests.factories import make_user
from tests.initiatives.factories import make_initiative, make_programme, make_voter
from tests.paper.factories import enter, open_batch, rnokpp

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = 12


def _race(online, paper) -> dict[str, list]:
    """Run online() and paper() at once; collect what each returned or the refusal code."""
    barrier = threading.Barrier(2)
    results: dict[str, list] = {"online": [], "paper": []}

    def run(name, function):
        try:
            barrier.wait()
            results[name].append(function())
        except Refused as refusal:
            results[name].append(refusal.code)
        except Exception as exc:  # shown in the assertion below
            results[name].append(repr(exc))
            raise
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("online", online)),
        threading.Thread(target=run, args=("paper", paper)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL concurrency")
def test_a_clerk_and_the_same_person_online_end_with_one_counted_signature(clerk_a, petition):
    batch = open_batch(clerk_a, petition=petition)
    outcomes = []
    for _ in range(PEOPLE):
        number = rnokpp()
        person = make_user()
        person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=number, source="clerk")
        result = _race(
            lambda person=person: petition_sign(petition=petition, user=person),
            lambda number=number: enter(clerk_a, batch, number),
        )
        outcomes.append(result)
        online, paper = result["online"][0], result["paper"][0]
        won = [isinstance(online, Signature), isinstance(paper, Line)]
        assert sum(won) == 1, result  # exactly one counted act...
        assert (online if won[1] else paper) == "counted"  # ...and a worded refusal
    assert CountedAct.objects.filter(scope="petition", subject_id=petition.pk).count() == PEOPLE
    assert (
        Signature.objects.filter(petition=petition).count()
        + Line.objects.filter(batch=batch).count()
        == PEOPLE
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL concurrency")
def test_a_paper_ballot_and_the_same_voter_online_end_with_one_counted_ballot(clerk_a, city_a):
    programme = make_programme(city_a, residents_only=False, min_voter_age=0)
    project = make_initiative(programme)
    from initiatives.services.rules import programme_freeze_rules

    programme_freeze_rules(programme_id=programme.pk)
    batch = open_batch(clerk_a, programme=programme)
    for _ in range(6):
        number = rnokpp()
        voter = make_voter(city_a)
        person_key_confirm(user=voter, kind=DocumentType.RNOKPP, number=number, source="clerk")
        result = _race(
            lambda voter=voter: vote_cast(voter=voter, initiative=project),
            lambda number=number: enter(
                clerk_a, batch, number, resident=True, initiative_ids=[project.pk]
            ),
        )
        online, paper = result["online"][0], result["paper"][0]
        assert isinstance(online, str) != isinstance(paper, str), result
        assert "counted" in (online, paper), result
    assert CountedAct.objects.filter(scope="programme", subject_id=programme.pk).count() == 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL concurrency")
def test_signing_inside_a_caller_s_transaction_that_loses_to_paper_is_refused_in_words(
    clerk_a, petition
):
    """The paper line commits while the signature waits on the same person's claim: inside a
    caller's transaction (spoilt by the conflict, so no more reads) the refusal still names
    the reason."""
    from django.db import transaction

    batch = open_batch(clerk_a, petition=petition)
    number = rnokpp()
    person = make_user()
    person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=number, source="clerk")

    def sign_in_a_transaction():
        with transaction.atomic():
            petition_sign(petition=petition, user=person)

    outcome = _while_a_clerk_holds_the_line(clerk_a, batch, number, sign_in_a_transaction)
    assert outcome == [("counted", "You are already counted here.")]  # worded in English
    assert not Signature.objects.filter(petition=petition, user=person).exists()


def _while_a_clerk_holds_the_line(clerk, batch, number, act, **line) -> list:
    """Run act() in another thread while the clerk's line of the same person is entered but
    not yet committed; commit it while act() waits on the person's claim. Returns what
    act() returned or (refusal code, wording)."""
    from django.db import transaction
    from django.utils import translation

    entered, release = threading.Event(), threading.Event()
    outcome: list = []

    def paper() -> None:
        try:
            with transaction.atomic():
                enter(clerk, batch, number, **line)
                entered.set()
                release.wait(10)
        finally:
            connection.close()

    def online() -> None:
        try:
            outcome.append(act())
        except Refused as refusal:
            with translation.override("en"):
                outcome.append((refusal.code, str(refusal)))
        finally:
            connection.close()

    clerk_thread = threading.Thread(target=paper)
    clerk_thread.start()
    assert entered.wait(10)
    person = threading.Thread(target=online)
    person.start()
    person.join(0.5)  # waiting on the claim the clerk's line holds
    release.set()
    clerk_thread.join(20)
    person.join(20)
    return outcome


def _on_paper_today() -> str:
    from django.utils import timezone, translation
    from django.utils.formats import date_format

    with translation.override("uk"):  # worded when raised, in the portal's language
        day = date_format(timezone.localdate(), "j E Y")
    return f"Вас уже враховано: на папері, {day}."


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL concurrency")
def test_a_signature_that_loses_to_a_paper_line_is_told_the_channel_and_the_day(clerk_a, petition):
    batch = open_batch(clerk_a, petition=petition)
    number = rnokpp()
    person = make_user()
    person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=number, source="clerk")
    outcome = _while_a_clerk_holds_the_line(
        clerk_a, batch, number, lambda: petition_sign(petition=petition, user=person)
    )
    assert outcome == [("counted", _on_paper_today())]
    assert not Signature.objects.filter(petition=petition, user=person).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL concurrency")
@pytest.mark.parametrize(
    "path", ["statement", "statement_in_atomic", "orm", "ballot", "ballot_orm"]
)
def test_a_vote_that_loses_to_a_paper_ballot_is_told_the_channel_and_the_day(clerk_a, city_a, path):
    from django.db import connections

    from initiatives.models import Vote
    from initiatives.services.rules import programme_freeze_rules

    programme = make_programme(city_a, residents_only=False, min_voter_age=0)
    project = make_initiative(programme)
    programme_freeze_rules(programme_id=programme.pk)
    batch = open_batch(clerk_a, programme=programme)
    number = rnokpp()
    voter = make_voter(city_a)
    person_key_confirm(user=voter, kind=DocumentType.RNOKPP, number=number, source="clerk")

    def vote():
        from django.db import transaction

        if path in ("orm", "ballot_orm"):
            connections["default"].vendor = "sqlite"  # this thread's connection: the ORM path
        if path.startswith("ballot"):
            return ballot_confirm(voter=voter, programme=programme, initiative_ids=[project.pk])
        if path == "statement_in_atomic":  # a caller's transaction: a savepoint keeps it usable
            with transaction.atomic():
                return vote_cast(voter=voter, initiative=project)
        return vote_cast(voter=voter, initiative=project)

    outcome = _while_a_clerk_holds_the_line(
        clerk_a, batch, number, vote, resident=True,
        initiative_ids=[project.pk],
    )  # fmt: skip
    assert outcome == [("counted", _on_paper_today())]
    assert not Vote.objects.filter(voter=voter).exists()
