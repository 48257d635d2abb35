"""Reading the ledger: checkpoints, leaves, proofs and a person's own receipts."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from opencity.ledger import services, tree
from opencity.ledger.models import Checkpoint, Entry

MAX_LEAVES_PER_PAGE = 10_000


def catch_up_without_worker() -> None:
    """With no Celery worker (the demo, eager tasks) no beat runs the sequencer: reading the
    ledger appends what is pending first, so the demo shows leaves at once."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        services.sequence_all()


def checkpoint(size: int | None = None) -> Checkpoint | None:
    if size is None:
        return services.ensure_checkpoint()
    return Checkpoint.objects.filter(size=size).first()


def recent_checkpoints(limit: int = 10) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.order_by("-size").only("size", "created_at")[:limit]


def leaves(start: int, end: int) -> list[bytes]:
    end = min(end, start + MAX_LEAVES_PER_PAGE)
    rows = (
        Entry.objects.filter(index__gte=start, index__lt=end)
        .order_by("index")
        .values_list("data", flat=True)
    )
    return [bytes(value) for value in rows]


def entry_by_receipt(code: str) -> Entry | None:
    return (
        Entry.objects.filter(receipt_code=code.strip().upper())
        .only("index", "data", "act", "acted_at", "appended_at", "receipt_code")
        .first()
    )


def receipts_of(person_id: int) -> QuerySet[Entry]:
    return Entry.objects.filter(person_id=person_id).order_by("-index")


def receipt_for(person_id: int, subject: str) -> Entry | None:
    return Entry.objects.filter(person_id=person_id, subject=subject).order_by("-index").first()


def receipt_sql(person_id: int, subject: str) -> tuple[str, list]:
    """receipt_for() as two SQL expressions (index, receipt code) with their parameters, for
    a page that reads a visitor's state in one statement; receipt_from() makes the Entry."""
    latest = 'FROM ledger_entry WHERE person_id = %s AND subject = %s ORDER BY "index" DESC LIMIT 1'
    return (
        f'(SELECT "index" {latest}), (SELECT receipt_code {latest})',
        [person_id, subject, person_id, subject],
    )


def receipt_from(index: int | None, code: str | None) -> Entry | None:
    """The receipt that receipt_sql's two fields describe (None: not recorded yet)."""
    return None if index is None else Entry(index=index, receipt_code=code)


def receipt_after_catch_up(person_id: int, subject: str) -> Entry | None:
    """A receipt not found yet, once more after appending what is pending where no worker
    does it (the demo); None elsewhere: the sequencer's next run adds it."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    catch_up_without_worker()
    return receipt_for(person_id, subject)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return tree.inclusion_proof(index, size)


def consistency_proof(old: int, new: int) -> list[bytes]:
    return tree.consistency_proof(old, new)
