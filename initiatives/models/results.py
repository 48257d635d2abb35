"""Tally snapshots and their rows, implementation updates, and the review queue's proxy."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import MONEY, Category, Initiative, Outcome, Programme


class ResultSnapshot(models.Model):
    """An immutable tally result. The same votes always give the same content hash."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="snapshots")
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("tallied at"), default=timezone.now)
    total_votes = models.PositiveIntegerField(_("votes"))
    # Recorded when the results are published (the tally itself only decides the winners).
    total_voters = models.PositiveIntegerField(_("voters"), null=True, blank=True)
    funded_amount = models.DecimalField(_("funded, UAH"), **MONEY)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voters_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("result snapshot")
        verbose_name_plural = _("result snapshots")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "content_hash"], name="snapshot_unique_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} · {self.created_at:%Y-%m-%d %H:%M}"


class ResultRow(models.Model):
    """One project's line in an immutable result snapshot, written by the tally.

    The snapshot key is indexed by the unique (snapshot, initiative) constraint. Initiative
    and category keep Django's PROTECT (nothing on a result can be deleted through the ORM)
    but have no database foreign-key check: a tally writes hundreds of rows at once, and
    those per-row checks of rows the tally has just read doubled its write cost.
    """

    snapshot = models.ForeignKey(
        ResultSnapshot, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    initiative = models.ForeignKey(
        Initiative, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    rank = models.PositiveIntegerField(_("rank in category"))
    votes = models.PositiveIntegerField(_("votes"))
    # Of `votes`, those on confirmed paper ballots of service centres (the rest were cast
    # online), as counted by the tally. NULL on snapshots tallied before the split was kept.
    paper_votes = models.PositiveIntegerField(_("of them on paper"), null=True, blank=True)
    amount = models.DecimalField(_("cost, UAH"), **MONEY)
    winner = models.BooleanField(_("funded"))
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, blank=True, db_default=""
    )

    class Meta:
        verbose_name = _("result row")
        verbose_name_plural = _("result rows")
        ordering = ["snapshot", "category__position", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "initiative"], name="resultrow_unique"),
            models.CheckConstraint(
                condition=models.Q(paper_votes__lte=models.F("votes")),
                name="resultrow_paper_within_votes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative_id}: {self.votes}"

    @property
    def online_votes(self) -> int | None:
        return None if self.paper_votes is None else self.votes - self.paper_votes


class ImplementationUpdate(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        PROCUREMENT = "procurement", _("procurement")
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")

    initiative = models.ForeignKey(
        Initiative, on_delete=models.PROTECT, related_name="implementation_updates"
    )
    status = models.CharField(_("stage of works"), max_length=12, choices=Status.choices)
    happened_on = models.DateField(_("date"))
    text = models.TextField(_("what happened"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    voters_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("implementation update")
        verbose_name_plural = _("implementation updates")
        ordering = ["-happened_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} ({self.happened_on})"


class InitiativeForReview(Initiative):
    """The review queue in admin: initiatives waiting for the working group's decision."""

    class Meta:
        proxy = True
        verbose_name = _("initiative to review")
        verbose_name_plural = _("review queue")
