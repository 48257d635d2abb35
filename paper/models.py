"""Paper signatures and ballots entered at a service centre (ЦНАП), counted with the
online ones and never twice.

A clerk opens a batch (place, day, a scan of the sheets in private storage) and enters its
lines; each line holds the person's identity key (never the number), name and address, and
for a ballot the chosen projects. The person's CountedAct (opencity.identity) is claimed at
entry, so a duplicate is refused on its line. A batch counts only when a second clerk
confirms it (`counted_at` is set on its lines); a correction is a new line that voids an
old one when its own batch is confirmed. Lines are never edited in place.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from opencity.cities.storage import private_storage


class Batch(models.Model):
    class Kind(models.TextChoices):
        SIGNATURES = "signatures", _("petition signatures")
        BALLOTS = "ballots", _("budget ballots")

    class Status(models.TextChoices):
        ENTERING = "entering", _("being entered")
        CONFIRMED = "confirmed", _("confirmed")
        REJECTED = "rejected", _("rejected")

    city = models.ForeignKey(
        "cities.City", verbose_name=_("city"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    petition = models.ForeignKey(
        "petitions.Petition",
        verbose_name=_("petition"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="paper_batches",
    )
    programme = models.ForeignKey(
        "initiatives.Programme",
        verbose_name=_("public budget"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="paper_batches",
    )
    place = models.CharField(_("place"), max_length=200)
    collected_on = models.DateField(_("date on the sheets"))
    scan = models.FileField(
        _("scan of the sheets"), storage=private_storage, upload_to="paper/%Y/%m/", max_length=200
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ENTERING
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("opened"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed or rejected by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("confirmed or rejected"), null=True, blank=True)

    class Meta:
        verbose_name = _("paper batch")
        verbose_name_plural = _("paper batches")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="signatures") & Q(petition__isnull=False, programme=None))
                | (Q(kind="ballots") & Q(programme__isnull=False, petition=None)),
                name="paper_batch_subject_matches_kind",
            ),
            # Four eyes: the clerk who decides is never the one who opened the batch.
            models.CheckConstraint(
                condition=Q(status="entering", decided_by=None, decided_at=None)
                | (
                    ~Q(status="entering")
                    & Q(decided_by__isnull=False, decided_at__isnull=False)
                    & ~Q(decided_by=F("entered_by"))
                ),
                name="paper_batch_four_eyes",
            ),
        ]
        indexes = [
            models.Index(fields=["city", "status", "-created_at"], name="paper_batch_city"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.place} · {self.collected_on}"

    @property
    def subject_id(self) -> int:
        return self.petition_id or self.programme_id

    @property
    def scope(self) -> str:
        return "petition" if self.kind == self.Kind.SIGNATURES else "programme"


class Line(models.Model):
    batch = models.ForeignKey(
        Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="lines"
    )
    number = models.PositiveIntegerField(_("line on the sheet"))
    # Empty name and key: a line that only voids another (an entry made by mistake).
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    key = models.CharField(_("identity key"), max_length=64, null=True, blank=True)
    id_kind = models.CharField(_("document"), max_length=16, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    resident = models.BooleanField(_("lives in the hromada"), default=False)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    initiatives = models.ManyToManyField(
        "initiatives.Initiative",
        verbose_name=_("projects chosen"),
        through="LineChoice",
        related_name="+",
        blank=True,
    )
    voids = models.OneToOneField(
        "self",
        verbose_name=_("corrects line"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="voided_by",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    entered_at = models.DateTimeField(_("entered"), auto_now_add=True)
    # Set by the confirmation of the batch (the act counts from then) and by the
    # confirmation of a correction (it stops counting). The public ledger logs both.
    counted_at = models.DateTimeField(_("counted"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)

    class Meta:
        verbose_name = _("paper line")
        verbose_name_plural = _("paper lines")
        ordering = ["batch", "number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="paper_line_number"),
            models.CheckConstraint(
                condition=Q(key__isnull=True) | Q(key__regex=r"^[0-9a-f]{64}$"),
                name="paper_line_key_hex",
            ),
            models.CheckConstraint(
                condition=Q(key__isnull=False) | Q(voids__isnull=False),
                name="paper_line_person_or_void",
            ),
            models.CheckConstraint(
                condition=Q(counted_at=None) | Q(key__isnull=False),
                name="paper_line_counted_has_person",
            ),
        ]
        indexes = [
            models.Index(
                fields=["batch"],
                condition=Q(counted_at__isnull=False, voided_at=None),
                name="paper_line_counted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.number}"

    @property
    def is_counted(self) -> bool:
        return self.counted_at is not None and self.voided_at is None


class LineChoice(models.Model):
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="choices")
    initiative = models.ForeignKey(
        "initiatives.Initiative", on_delete=models.PROTECT, related_name="paper_choices"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["line", "initiative"], name="paper_choice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} → {self.initiative_id}"
