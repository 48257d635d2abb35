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
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from opencity.core.models import AuditEntry
from opencity.ledger import keys, registry
from opencity.ledger.models import Checkpoint, Entry
from opencity.ledger.tree import stored_subtrees
from opencity.ledger.verify import EMPTY_ROOT, node_hash

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


_json_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses


def act_leaf(act: str, subject: str, at: str, person: str | None) -> bytes:
    """canonical() of an act's payload {"v", "act", "subject", "at"[, "person"]}, written out
    in sorted key order: the sequencer makes one per signature or vote, and this is several
    times faster than json.dumps with sort_keys. `person` is a hex digest."""
    person_part = f',"person":"{person}"' if person is not None else ""
    return (
        f'{{"act":{_json_string(act)},"at":{_json_string(at)}{person_part},'
        f'"subject":{_json_string(subject)},"v":1}}'
    ).encode()


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_receipt_code() -> str:
    """16 characters of RECEIPT_ALPHABET (about 79 bits), the base-31 digits of one 96-bit
    random number: one call for the randomness, and no digit's bias above 1e-5."""
    number = int.from_bytes(secrets.token_bytes(12))
    code = []
    for _ in range(16):
        number, digit = divmod(number, 31)
        code.append(RECEIPT_ALPHABET[digit])
    return "".join(code)


@dataclass
class Frontier:
    """The right edge of the tree: hashes of the complete subtrees that make up [0, size),
    largest first, as (level, position, hash). Appending a leaf merges equal levels and
    reports each subtree it completes as (level, position, hash): computed in memory for the
    whole batch, written once."""

    size: int
    stack: list[tuple[int, int, bytes]]

    def append(self, value: bytes, new_nodes: list[tuple[int, int, bytes]]) -> None:
        level, position, current = 0, self.size, value
        stack = self.stack
        while stack and stack[-1][0] == level:
            current = hashlib.sha256(b"\x01" + stack.pop()[2] + current).digest()
            level, position = level + 1, position >> 1
            new_nodes.append((level, position, current))
        stack.append((level, position, current))
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


def _decision_leaves(ids: list[int]) -> dict[int, dict]:
    """Leaf payloads for audited decisions that a service registered as public."""
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


ENTRY_COLUMNS = (
    "index", "act", "source_id", "data", "leaf_hash", "acted_at", "appended_at",
    "person_id", "receipt_code", "salt", "subject",
)  # fmt: skip
NODE_COLUMNS = ("level", "position", "hash")


def _take_pending(cursor, batch: int) -> list[tuple]:
    """Delete the first `batch` pending rows (by id) and return them, in one statement.

    By id, never by range: a lower id may commit later and must wait for the next run. Had
    the transaction to roll back, the rows come back with it.
    """
    cursor.execute(
        "DELETE FROM ledger_pending WHERE id IN "
        "(SELECT id FROM ledger_pending ORDER BY id LIMIT %s) "
        "RETURNING id, act, source_id, subject, person_id, acted_at",
        [batch],
    )
    rows = cursor.fetchall()
    rows.sort()
    return rows


def _already_logged(cursor, keys: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (act, source_id) pairs among `keys` that are leaves already (a replayed trigger):
    one indexed join on PostgreSQL, whatever the batch size."""
    if not keys:
        return set()
    acts, source_ids = zip(*keys, strict=True)
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT e.act, e.source_id FROM ledger_entry e "
            "JOIN unnest(%s::text[], %s::bigint[]) AS k(act, source_id) "
            "ON e.act = k.act AND e.source_id = k.source_id",
            [list(acts), list(source_ids)],
        )
        return set(cursor.fetchall())
    found = Entry.objects.filter(act__in=set(acts), source_id__in=set(source_ids))
    return set(found.values_list("act", "source_id")) & keys


def _write(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Many rows in one round trip: COPY on PostgreSQL, executemany elsewhere (the demo)."""
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name in columns)
    if connection.vendor == "postgresql":
        # psycopg's COPY is below Django's cursor wrapper: translate its errors (a unique
        # violation becomes django.db.IntegrityError) as the wrapper would.
        statement = f"COPY {table} ({names}) FROM STDIN"
        with connection.wrap_database_errors, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def _leaves(
    pending: list[tuple], decisions: dict[int, dict], logged: set[tuple[str, int]], size: int
) -> tuple[list[tuple], list[tuple[int, int, bytes]], Frontier]:
    """Rows of ledger_entry and ledger_node for the pending acts not in `logged`, hashed in
    memory: every subtree the batch completes is computed here, none read back."""
    frontier = _load_frontier(size)
    logged = set(logged)
    entries: list[tuple] = []
    nodes: list[tuple[int, int, bytes]] = []
    now = timezone.now()
    sha256, token_bytes = hashlib.sha256, secrets.token_bytes
    for _id, act, source_id, subject, person_id, acted_at in pending:
        salt = code = payload = None
        if act == DECISION_ACT:
            payload = decisions.get(source_id)
            if payload is None:
                continue  # an audit entry no service made public
            act = payload["act"]
        if (act, source_id) in logged:
            continue
        logged.add((act, source_id))
        if payload is not None:
            data = canonical(payload)
        else:
            person = None
            if person_id is not None:
                salt, code = token_bytes(32), new_receipt_code()
                person = commitment(salt, person_id)
            data = act_leaf(act, subject, _at(acted_at), person)
        value = sha256(b"\x00" + data).digest()
        entries.append(
            (frontier.size, act, source_id, data, value, acted_at, now,
             person_id, code, salt, subject)
        )  # fmt: skip
        frontier.append(value, nodes)
    return entries, nodes, frontier


def _sequence(batch: int) -> tuple[int, int]:
    """(pending rows consumed, leaves appended).

    Round trips per batch, whatever its size: the lock, one DELETE … RETURNING for the
    pending rows, the tree size and its right edge, the decisions' audit rows, one COPY of
    leaves, one COPY of subtree hashes, the checkpoint. An act already logged (a replayed
    trigger, rare) makes the COPY fail on the unique (act, source_id): the batch is then
    rebuilt without the logged acts, so the common case pays no lookup.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock():
            return 0, 0
        pending = _take_pending(cursor, batch)
        if not pending:
            return 0, 0
        size = tree_size()
        decisions = _decision_leaves([row[2] for row in pending if row[1] == DECISION_ACT])
        try:
            with transaction.atomic():
                entries, nodes, frontier = _leaves(pending, decisions, set(), size)
                _write(cursor, "ledger_entry", ENTRY_COLUMNS, entries)
        except IntegrityError:
            wanted = {(row[1], row[2]) for row in pending if row[1] != DECISION_ACT}
            wanted |= {(payload["act"], pk) for pk, payload in decisions.items()}
            logged = _already_logged(cursor, wanted)
            entries, nodes, frontier = _leaves(pending, decisions, logged, size)
            _write(cursor, "ledger_entry", ENTRY_COLUMNS, entries)
        _write(cursor, "ledger_node", NODE_COLUMNS, nodes)
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
