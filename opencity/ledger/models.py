"""The public ledger's tables: acts waiting to be logged, the log's leaves, its stored subtree
hashes and its signed checkpoints.

Only `Entry.data`, `Entry.leaf_hash`, `Node` and `Checkpoint` are public. `Entry.person_id`,
`receipt_code` and `salt` are private: they let a person find and open their own leaf.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Pending(models.Model):
    """An act waiting for the sequencer: inserted by a database trigger in the same transaction
    as the act itself (a signature, a vote, an audited decision), deleted once it is a leaf.

    No foreign keys: a trigger on a service's table writes here, and the ledger (a core app)
    must not depend on any service's models.
    """

    act = models.CharField(max_length=40)
    source_id = models.BigIntegerField()
    subject = models.CharField(max_length=80, blank=True)
    person_id = models.BigIntegerField(null=True, blank=True)
    acted_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.act} {self.source_id}"


class Entry(models.Model):
    """One leaf of the log. `index` is its position; `data` the exact bytes that were hashed."""

    index = models.BigIntegerField(primary_key=True)
    # A decision's act is its audit action: as long as AuditEntry.action may be.
    act = models.CharField(max_length=64)
    source_id = models.BigIntegerField()
    data = models.BinaryField()
    leaf_hash = models.BinaryField(max_length=32)
    acted_at = models.DateTimeField()
    appended_at = models.DateTimeField()
    # Private: who may see their own receipt, and how they open the commitment in `data`.
    person_id = models.BigIntegerField(null=True, blank=True)
    receipt_code = models.CharField(max_length=20, null=True, blank=True, unique=True)
    salt = models.BinaryField(max_length=32, null=True, blank=True)
    subject = models.CharField(max_length=80, blank=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["act", "source_id"], name="ledger_entry_one_per_act"),
            models.CheckConstraint(condition=models.Q(index__gte=0), name="ledger_index_gte_0"),
        ]
        indexes = [
            models.Index(
                fields=["person_id", "subject"],
                condition=models.Q(person_id__isnull=False),
                name="ledger_entry_by_person",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.index} {self.act}"


class Node(models.Model):
    """The hash of a complete subtree of 2**level leaves starting at leaf position * 2**level
    (level ≥ 1; level 0 is `Entry.leaf_hash`). Written once, when the subtree completes, so an
    inclusion or consistency proof reads O(log n) rows instead of rehashing leaves.
    """

    pk = models.CompositePrimaryKey("level", "position")
    level = models.PositiveSmallIntegerField()
    position = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return f"{self.level}/{self.position}"


class Checkpoint(models.Model):
    """A signed tree head, archived: one per tree size, never changed."""

    size = models.BigIntegerField(primary_key=True)
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"{self.size}"
