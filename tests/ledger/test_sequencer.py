"""Acts become leaves: signatures, votes and public decisions reach the log through database
triggers and the sequencer, with no personal data, once each, in one transaction."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from django.db import connection, transaction

from opencity.core import Refused
from opencity.core.services import audit
from opencity.ledger import keys, services, tree
from opencity.ledger.models import Checkpoint, Entry, Pending
from opencity.ledger.verify import (
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    root_from_leaf_hashes,
    verify_inclusion,
)
from petitions import services as petition_services
from petitions.models import Petition
from tests.factories import make_user
from tests.initiatives.factories import cast, make_initiative, make_programme, make_voter
from tests.petitions.factories import make_petition


def leaf(entry: Entry) -> dict:
    return json.loads(bytes(entry.data))


@pytest.mark.django_db
def test_a_signature_becomes_a_leaf_without_personal_data(city_a, citizen):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    assert Pending.objects.filter(act="petition.signature").count() == 1

    assert services.sequence() == 1
    entry = Entry.objects.get(act="petition.signature")
    data = bytes(entry.data)
    for private in (citizen.email, citizen.full_name, f'"{citizen.pk}"'):
        assert private.encode() not in data
    payload = leaf(entry)
    assert payload["subject"] == f"petitions.petition/{petition.pk}"
    # The receipt's salt opens the commitment for this person and no other.
    assert payload["person"] == services.commitment(bytes(entry.salt), citizen.pk)
    assert payload["person"] != services.commitment(bytes(entry.salt), citizen.pk + 1)
    assert bytes(entry.leaf_hash) == leaf_hash(data)
    assert not Pending.objects.exists()


@pytest.mark.django_db
def test_a_budget_vote_becomes_a_leaf(city_a):
    programme = make_programme(city_a)
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    vote = cast(voter, initiative)
    services.sequence_all()
    entry = Entry.objects.get(act="budget.vote", source_id=vote.pk)
    assert leaf(entry)["subject"] == f"initiatives.initiative/{initiative.pk}"
    assert entry.person_id == voter.pk and entry.receipt_code


@pytest.mark.django_db
def test_public_decisions_are_logged_and_private_audit_entries_are_not(city_a, moderator_a):
    petition = make_petition(city_a, status=Petition.Status.SUBMITTED)
    petition_services.petition_reject(
        petition=petition, actor=moderator_a, ground="competence", comment="Не наша справа"
    )
    audit(obj=moderator_a, action="cities.staff_role.assigned", actor=moderator_a, reason="private")
    services.sequence_all()
    decisions = [leaf(e) for e in Entry.objects.exclude(act__in=["petition.signature"])]
    assert [d["act"] for d in decisions] == ["petitions.petition.rejected"]
    assert decisions[0]["to"] == "rejected"
    assert decisions[0]["reason"].startswith("competence")
    assert "actor" not in decisions[0] and moderator_a.email.encode() not in bytes(
        Entry.objects.get(act="petitions.petition.rejected").data
    )
    assert not Pending.objects.exists()  # the private one was dropped, not left behind


@pytest.mark.django_db
def test_each_run_signs_a_checkpoint_that_opens_with_the_published_key(city_a):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    for _ in range(5):
        petition_services.petition_sign(petition=petition.pk, user=make_user())
    services.sequence()
    checkpoint = Checkpoint.objects.get()
    name, public_key = parse_verifier_key(keys.public_verifier_key())
    opened = open_checkpoint(checkpoint.note, name, public_key)
    hashes = [bytes(h) for h in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)]
    assert opened.size == len(hashes) == checkpoint.size
    assert opened.root == root_from_leaf_hashes(hashes) == bytes(checkpoint.root)
    assert checkpoint.note.splitlines()[0] == keys.origin()
    assert checkpoint.note.splitlines()[4].startswith("\u2014 " + keys.origin() + " ")

    for _ in range(3):
        petition_services.petition_sign(petition=petition.pk, user=make_user())
    services.sequence()
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [
        len(hashes) + 3,
        len(hashes),
    ]
    latest = Checkpoint.objects.first()
    for index, value in enumerate(hashes):
        verify_inclusion(
            index, latest.size, value, tree.inclusion_proof(index, latest.size), bytes(latest.root)
        )


@pytest.mark.django_db
def test_running_the_sequencer_again_appends_nothing_twice(city_a, citizen):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    services.sequence()
    assert services.sequence() == 0
    # A pending row for an act already logged (a replayed trigger) is dropped, not re-logged.
    entry = Entry.objects.get(act="petition.signature")
    Pending.objects.create(
        act=entry.act, source_id=entry.source_id, subject=entry.subject, acted_at=entry.acted_at
    )
    assert services.sequence() == 0
    assert Entry.objects.filter(act="petition.signature").count() == 1
    assert not Pending.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_second_sequencer_waits_for_the_first_instead_of_forking_the_log(city_a):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    for _ in range(3):
        petition_services.petition_sign(petition=petition.pk, user=make_user())
    holding, release, result = threading.Event(), threading.Event(), {}

    def first():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services.SEQUENCER_LOCK])
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(10)
    result["second"] = services.sequence()
    release.set()
    thread.join()
    assert result["second"] == 0  # the lock was taken: nothing appended, nothing forked
    assert Pending.objects.count() >= 3
    total = services.sequence_all()
    assert total == Entry.objects.count() >= 3
    assert sorted(Entry.objects.values_list("index", flat=True)) == list(range(total))


@pytest.mark.django_db
def test_a_refused_second_vote_leaves_no_second_pending_act(city_a):
    programme = make_programme(city_a)
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    cast(voter, initiative)
    with pytest.raises(Refused):
        cast(voter, initiative)
    assert Pending.objects.filter(act="budget.vote").count() == 1


@pytest.mark.django_db
def test_checkpoint_root_is_base64_of_the_tree_root(city_a, citizen):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    services.sequence()
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.note.splitlines()[2] == base64.b64encode(tree.root(checkpoint.size)).decode()


@pytest.mark.parametrize("person", [None, "ab" * 32])
@pytest.mark.parametrize("subject", ["petitions.petition/7", 'дивна "тема"\\/\n\u2028'])
def test_the_fast_act_leaf_is_the_canonical_json(subject, person):
    payload = {"v": 1, "act": "petition.signature", "subject": subject, "at": "2026-01-01T00:00Z"}
    if person is not None:
        payload["person"] = person
    assert services.act_leaf("petition.signature", subject, payload["at"], person) == (
        services.canonical(payload)
    )


def test_receipt_codes_are_sixteen_letters_of_the_alphabet_and_differ():
    codes = {services.new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == 16 and set(code) <= set(services.RECEIPT_ALPHABET) for code in codes)
    assert set("".join(codes)) == set(services.RECEIPT_ALPHABET)  # every letter is used


@pytest.mark.django_db
def test_a_replayed_act_in_a_batch_is_dropped_and_the_rest_logged_in_order(city_a):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    petition_services.petition_sign(petition=petition.pk, user=make_user())
    services.sequence()
    first = Entry.objects.get(act="petition.signature")
    petition_services.petition_sign(petition=petition.pk, user=make_user())
    Pending.objects.create(
        act=first.act, source_id=first.source_id, subject=first.subject, acted_at=first.acted_at
    )
    petition_services.petition_sign(petition=petition.pk, user=make_user())
    assert services.sequence() == 2  # the COPY hit the unique (act, source_id); rebuilt
    rows = list(Entry.objects.order_by("index").values_list("index", "source_id"))
    assert [index for index, _ in rows] == [0, 1, 2]
    assert len({source for _, source in rows}) == 3
    assert not Pending.objects.exists()
    hashes = [bytes(h) for h in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)]
    assert tree.root(3) == root_from_leaf_hashes(hashes) == bytes(Checkpoint.objects.first().root)


@pytest.mark.django_db
def test_a_waitlist_s_places_and_promotions_are_leaves_without_the_person(city_a):
    from academy import services as academy
    from tests.academy.factories import make_session

    services.sequence_all()
    start = Entry.objects.count()
    session = make_session(capacity=1)
    people = [make_user() for _ in range(3)]
    seated, first, second = (
        academy.register(session_id=session.pk, user=person) for person in people
    )
    academy.registration_cancel(registration_id=seated.pk, user=people[0])
    academy.waitlist_promote(session_id=session.pk)
    services.sequence_all()
    logged = [
        leaf(e)
        for e in Entry.objects.filter(index__gte=start, act__startswith="academy.").order_by(
            "index"
        )
    ]
    assert [(d["act"], d["subject"], d["session"], d["waitlist_position"]) for d in logged] == [
        ("academy.registration.registered", f"academy.registration/{seated.pk}", session.pk, None),
        ("academy.registration.registered", f"academy.registration/{first.pk}", session.pk, 1),
        ("academy.registration.registered", f"academy.registration/{second.pk}", session.pk, 2),
        ("academy.registration.cancelled", f"academy.registration/{seated.pk}", session.pk, None),
        ("academy.registration.promoted", f"academy.registration/{first.pk}", session.pk, 1),
    ]
    everything = b"".join(bytes(e.data) for e in Entry.objects.all())
    assert not any(person.email.encode() in everything for person in people)


@pytest.mark.django_db(transaction=True)
def test_a_replayed_decision_in_a_batch_is_dropped_and_the_rest_logged(city_a, moderator_a):
    from opencity.core.models import AuditEntry

    rejected = make_petition(city_a, status=Petition.Status.SUBMITTED)
    petition_services.petition_reject(
        petition=rejected, actor=moderator_a, ground="competence", comment="Не наша справа"
    )
    services.sequence_all()
    decision = Entry.objects.get(act="petitions.petition.rejected")
    audit_row = AuditEntry.objects.get(action="petitions.petition.rejected")
    # The decision's trigger replayed: its pending row again, beside a new signature.
    Pending.objects.create(
        act=services.DECISION_ACT, source_id=audit_row.pk, subject=decision.subject,
        acted_at=decision.acted_at,
    )  # fmt: skip
    collecting = make_petition(city_a, threshold=1000)
    petition_services.petition_sign(petition=collecting.pk, user=make_user())
    assert services.sequence() == 1  # the COPY hit the unique (act, source_id); rebuilt
    assert Entry.objects.filter(act="petitions.petition.rejected").count() == 1
    assert Entry.objects.filter(act="petition.signature").count() == 1
    assert not Pending.objects.exists()
