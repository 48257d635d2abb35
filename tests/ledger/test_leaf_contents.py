"""What the sequencer writes, byte for byte, as an outside verifier reads it: canonical JSON
leaves with the act's time in UTC, receipts a person can open with the published formula,
a checkpoint after every run that matches the recomputed tree, batches that leave the rest
for the next run, and the demo's database (issue 21: checked by the mutation run)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime

import pytest
from django.db import connections

from opencity.core.services import audit
from opencity.ledger import keys, services
from opencity.ledger.models import Checkpoint, Entry, Pending
from opencity.ledger.verify import (
    EMPTY_ROOT,
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    root_from_leaf_hashes,
)
from petitions import services as petition_services
from petitions.models import Petition
from tests.factories import make_user
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db

UTC_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def leaf(entry: Entry) -> dict:
    return json.loads(bytes(entry.data))


def hashes() -> list[bytes]:
    return [bytes(h) for h in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)]


def sign(petition, n: int = 1) -> None:
    for _ in range(n):
        petition_services.petition_sign(petition=petition.pk, user=make_user())


@pytest.fixture
def petition(city_a):
    return make_petition(city_a, threshold=1000)  # no "reached" decision leaf


def test_a_signature_leaf_is_canonical_json_a_verifier_can_open(petition, citizen):
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    services.sequence()
    entry = Entry.objects.get(act="petition.signature")
    data = bytes(entry.data)
    payload = json.loads(data)
    # Canonical: sorted keys, no spaces, so anyone re-serialising gets the same bytes.
    assert data == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert list(payload) == sorted(payload) and b" " not in data
    assert payload["v"] == 1 and payload["act"] == "petition.signature"
    assert payload["subject"] == f"petitions.petition/{petition.pk}"
    # The act's time, in UTC with microseconds, as recorded in the same transaction.
    assert UTC_INSTANT.fullmatch(payload["at"])
    assert datetime.fromisoformat(payload["at"]) == entry.acted_at
    # The receipt opens the commitment with the formula the published verifier uses.
    expected = hmac.new(
        bytes(entry.salt), f"opencity-person:{citizen.pk}".encode(), hashlib.sha256
    ).hexdigest()
    assert payload["person"] == expected
    assert len(bytes(entry.salt)) == 32
    assert re.fullmatch(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{16}", entry.receipt_code)
    assert entry.person_id == citizen.pk and entry.source_id and entry.subject
    assert bytes(entry.leaf_hash) == leaf_hash(data)


def test_a_decision_leaf_keeps_its_public_reason_in_plain_utf8_and_no_receipt(city_a, moderator_a):
    petition = make_petition(city_a, status=Petition.Status.SUBMITTED)
    petition_services.petition_reject(
        petition=petition, actor=moderator_a, ground="competence", comment="Не наша справа"
    )
    services.sequence_all()
    entry = Entry.objects.get(act="petitions.petition.rejected")
    data = bytes(entry.data)
    assert "Не наша справа".encode() in data, "UTF-8, not \\u escapes"
    payload = json.loads(data)
    assert (
        data
        == json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert payload["v"] == 1
    assert payload["subject"] == f"petitions.petition/{petition.pk}"
    assert (payload["from"], payload["to"]) == ("submitted", "rejected")
    assert UTC_INSTANT.fullmatch(payload["at"])
    assert "person" not in payload
    assert entry.receipt_code is None and entry.salt is None and entry.person_id is None


def test_a_decision_without_a_public_reason_leaves_the_reason_out(city_a, moderator_a):
    audited = make_user()
    from opencity.ledger import registry

    registry.register_decision("tests.thing.decided")
    try:
        audit(obj=audited, action="tests.thing.decided", actor=moderator_a, reason="Іван сказав")
        registry.register_decision("tests.thing.explained", with_reason=True, data_keys=("n",))
        audit(
            obj=audited,
            action="tests.thing.explained",
            actor=moderator_a,
            reason="Публічна підстава",
            data={"n": 3, "who": "private"},
        )
        services.sequence_all()
    finally:
        registry._decisions.pop("tests.thing.decided", None)
        registry._decisions.pop("tests.thing.explained", None)
    decided = leaf(Entry.objects.get(act="tests.thing.decided"))
    assert "reason" not in decided and "n" not in decided
    explained = leaf(Entry.objects.get(act="tests.thing.explained"))
    assert explained["reason"] == "Публічна підстава"
    assert explained["n"] == 3 and "who" not in explained
    assert explained["subject"] == f"accounts.user/{audited.pk}"


def test_every_run_appends_in_order_and_signs_the_recomputed_root(petition):
    for size in range(1, 12):  # loads every size up to 10: 7 = 4 + 2 + 1 too
        sign(petition)
        assert services.sequence() == 1
        assert list(Entry.objects.order_by("index").values_list("index", flat=True)) == list(
            range(size)
        )
        checkpoint = services.latest_checkpoint()
        assert checkpoint.size == size
        assert bytes(checkpoint.root) == root_from_leaf_hashes(hashes())
        name, public_key = parse_verifier_key(keys.public_verifier_key())
        opened = open_checkpoint(checkpoint.note, name, public_key)
        assert (opened.size, opened.root) == (size, bytes(checkpoint.root))
    assert Checkpoint.objects.count() == 11
    assert services.sequence() == 0
    assert Checkpoint.objects.count() == 11, "no new checkpoint when nothing was appended"


def test_a_batch_takes_the_oldest_acts_and_leaves_the_rest(petition):
    sign(petition, 3)
    first_two = list(Pending.objects.order_by("id").values_list("source_id", flat=True))[:2]
    assert services.sequence(batch=2) == 2
    assert list(Entry.objects.order_by("index").values_list("source_id", flat=True)) == first_two
    assert Pending.objects.count() == 1
    assert services.latest_checkpoint().size == 2
    assert services.sequence(batch=2) == 1
    assert services.latest_checkpoint().size == 3
    assert bytes(services.latest_checkpoint().root) == root_from_leaf_hashes(hashes())


def test_draining_goes_on_past_a_batch_of_private_entries(petition, moderator_a, monkeypatch):
    monkeypatch.setattr(services, "BATCH", 2)
    for _ in range(2):  # a whole batch of audit entries no service made public
        audit(obj=moderator_a, action="cities.staff_role.assigned", actor=moderator_a)
    sign(petition, 3)
    assert services.sequence_all() == 3
    assert not Pending.objects.exists()
    assert Entry.objects.count() == 3 and services.latest_checkpoint().size == 3


def test_the_empty_log_has_a_signed_checkpoint(petition):
    checkpoint = services.ensure_checkpoint()
    assert (checkpoint.size, bytes(checkpoint.root)) == (0, EMPTY_ROOT)
    name, public_key = parse_verifier_key(keys.public_verifier_key())
    assert open_checkpoint(checkpoint.note, name, public_key).size == 0
    assert services.ensure_checkpoint().pk == checkpoint.pk
    assert services.tree_size() == 0
    sign(petition, 2)
    services.sequence()
    latest = services.ensure_checkpoint()
    assert latest.size == 2 == services.tree_size()
    assert services.latest_checkpoint().pk == latest.pk


def test_the_demo_database_sequences_without_the_advisory_lock(petition, monkeypatch):
    sign(petition, 2)
    monkeypatch.setattr(connections["default"], "vendor", "sqlite")
    assert services.sequence() == 2
    assert services.latest_checkpoint().size == 2


def test_times_are_written_in_utc_whatever_the_zone(petition):
    sign(petition)
    noon_utc = datetime(2026, 12, 4, 12, 0, 0, 5, tzinfo=UTC)  # 14:00 in Kyiv
    Pending.objects.update(acted_at=noon_utc)
    services.sequence()
    assert leaf(Entry.objects.get())["at"] == "2026-12-04T12:00:00.000005Z"
