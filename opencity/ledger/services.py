"""Writing the ledger: the sequencer that turns pending acts into leaves and signs checkpoints.

Acts reach `ledger_pending` through database triggers installed by each service's migration
(a signature, a vote) and by this app's migration (audited decisions), in the same
transaction as the act: the hot paths run no ledger code and an act is never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from opencity.core.models import AuditEntry
from opencity.ledger import keys, registry
from opencity.ledger.models import Checkpoint, Entry, Node, Pending
from opencity.ledger.tree import stored_subtrees
from opencity.ledger.verify import EMPTY_ROOT, leaf_hash, node_hash

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: one sequencer at a time, across all workers.
SEQUENCER_LOCK = 0x0C17_1ED6
BATCH = 20_000
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed back
DECISION_ACT = "audit"


def commitment(salt: bytes, person_id: int) -> str:
    """The person in a leaf: HMAC-SHA256 keyed by the receipt's salt. Without the salt it
    reveals nothing; with it (from the receipt) anyone can check that the leaf is theirs."""
    return hmac.new(salt, f"opencity-person:{person_id}".encode(), hashlib.sha256).hexdigest()


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(16))


@dataclass
class Frontier:
    """The right edge of the tree: hashes of the complete subtrees that make up [0, size),
    largest first, as (level, position, hash). Appending a leaf merges equal levels."""

    size: int
    stack: list[tuple[int, int, bytes]]

    def append(self, value: bytes, new_nodes: list[Node]) -> None:
        level, position, current = 0, self.size, value
        while self.stack and self.stack[-1][0] == level:
            _, _, left = self.stack.pop()
            current = node_hash(left, current)
            level, position = level + 1, position >> 1
            new_nodes.append(Node(level=level, position=position, hash=current))
        self.stack.append((level, position, current))
        self.size += 1

    def root(self) -> bytes:
        current = self.stack[-1][2]
        for _, _, left in reversed(self.stack[:-1]):
            current = node_hash(left, current)
        return current


def _load_frontier(size: int) -> Frontier:
    wanted, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            wanted.append((level, start >> level))
            start += 1 << level
    stored = stored_subtrees(wanted) if wanted else {}
    return Frontier(size, [(level, pos, stored[(level, pos)]) for level, pos in wanted])


def tree_size() -> int:
    last = Entry.objects.aggregate(last=Max("index"))["last"]
    return 0 if last is None else last + 1


def _decision_leaves(pending: list[Pending]) -> dict[int, dict]:
    """Leaf payloads for audited decisions that a service registered as public."""
    ids = [row.source_id for row in pending if row.act == DECISION_ACT]
    if not ids:
        return {}
    payloads = {}
    for entry in AuditEntry.objects.filter(pk__in=ids):
        rule = registry.decision(entry.action)
        if rule is None:
            continue
        model = ContentType.objects.get_for_id(entry.content_type_id)
        payload = {
            "v": 1,
            "act": entry.action,
            "subject": f"{model.app_label}.{model.model}/{entry.object_id}",
            "from": entry.from_state,
            "to": entry.to_state,
            "at": _at(entry.created_at),
        }
        if rule.with_reason and entry.reason:
            payload["reason"] = entry.reason
        for key in rule.data_keys:
            if key in entry.data:
                payload[key] = entry.data[key]
        payloads[entry.pk] = payload
    return payloads


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite (the demo) runs IMMEDIATE transactions: one writer at a time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        return cursor.fetchone()[0]


def sequence(*, batch: int = BATCH) -> int:
    """Append up to `batch` pending acts as leaves, in pending order, and sign a checkpoint.

    Atomic: the leaves, the new subtree hashes, the deletion of the pending rows and the
    checkpoint commit together or not at all. Safe to run concurrently: a second sequencer
    finds the advisory lock taken and returns 0. Idempotent: an act already logged (unique
    (act, source_id)) is dropped from pending, not logged twice. Returns leaves appended.
    """
    return _sequence(batch)[1]


def _sequence(batch: int) -> tuple[int, int]:
    """(pending rows consumed, leaves appended)."""
    with transaction.atomic():
        if not _lock():
            return 0, 0
        pending = list(Pending.objects.order_by("id")[:batch])
        if not pending:
            return 0, 0
        size = tree_size()
        frontier = _load_frontier(size)
        decisions = _decision_leaves(pending)
        acts = {row.act for row in pending if row.act != DECISION_ACT}
        acts |= {payload["act"] for payload in decisions.values()}
        logged = set(
            Entry.objects.filter(
                act__in=acts, source_id__in=[row.source_id for row in pending]
            ).values_list("act", "source_id")
        )
        now = timezone.now()
        entries: list[Entry] = []
        nodes: list[Node] = []
        for row in pending:
            if row.act == DECISION_ACT:
                payload = decisions.get(row.source_id)
                if payload is None:
                    continue  # an audit entry no service made public
                act = payload["act"]
            else:
                act = row.act
            if (act, row.source_id) in logged:
                continue
            logged.add((act, row.source_id))
            salt = code = None
            if row.act != DECISION_ACT:
                payload = {"v": 1, "act": act, "subject": row.subject, "at": _at(row.acted_at)}
                if row.person_id is not None:
                    salt, code = secrets.token_bytes(32), new_receipt_code()
                    payload["person"] = commitment(salt, row.person_id)
            data = canonical(payload)
            value = leaf_hash(data)
            entries.append(
                Entry(
                    index=frontier.size,
                    act=act,
                    source_id=row.source_id,
                    data=data,
                    leaf_hash=value,
                    acted_at=row.acted_at,
                    appended_at=now,
                    person_id=row.person_id,
                    receipt_code=code,
                    salt=salt,
                    subject=row.subject,
                )
            )
            frontier.append(value, nodes)
        Entry.objects.bulk_create(entries, batch_size=2000)
        Node.objects.bulk_create(nodes, batch_size=2000)
        # By id, never by range: a lower id may commit later and must wait for the next run.
        Pending.objects.filter(id__in=[row.id for row in pending]).delete()
        if entries:
            root = frontier.root()
            Checkpoint.objects.create(
                size=frontier.size, root=root, note=keys.sign_checkpoint(frontier.size, root)
            )
    if entries:
        logger.info("ledger: appended %d leaves, size %d", len(entries), frontier.size)
    return len(pending), len(entries)


def sequence_all() -> int:
    """Drain pending acts (several batches). For tests, the demo and management commands."""
    total = 0
    while True:
        consumed, appended = _sequence(BATCH)
        total += appended
        if not consumed:
            return total


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def ensure_checkpoint() -> Checkpoint:
    """The latest checkpoint, signing the empty tree's if nothing was logged yet."""
    checkpoint = latest_checkpoint()
    if checkpoint is None:
        checkpoint, _ = Checkpoint.objects.get_or_create(
            size=0, defaults={"root": EMPTY_ROOT, "note": keys.sign_checkpoint(0, EMPTY_ROOT)}
        )
    return checkpoint
