"""Public (participatory) budgets: programmes, initiatives, votes and tally snapshots.

Rules that belong to one row are database constraints here; workflows (submission, review,
voting, tally, publication) live in `initiatives/services/`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opencity.cities.storage import PrivateStorage

MONEY = {"max_digits": 14, "decimal_places": 2}


class Stage(models.TextChoices):
    UPCOMING = "upcoming", _("upcoming")
    SUBMISSION = "submission", _("submission")
    REVIEW = "review", _("review")
    VOTING = "voting", _("voting")
    RESULTS = "results", _("results")
    IMPLEMENTATION = "implementation", _("implementation")


# Stage → the date field that closes it (inclusive). Extending a stage moves that date.
STAGE_END_FIELDS = {
    Stage.SUBMISSION: "submission_closes",
    Stage.REVIEW: "review_closes",
    Stage.VOTING: "voting_closes",
    Stage.RESULTS: "implementation_starts",
}


class WinnerRule(models.TextChoices):
    CATEGORY = "category_greedy", _("most votes first, within each category's budget")
    BUDGET = "budget_greedy", _("most votes first, within the whole budget")
    EQUAL_SHARES = "equal_shares", _("Method of Equal Shares (proportional)")


class Outcome(models.TextChoices):  # why a project won or lost (see services.explanations)
    WON = "won", _("won")
    VOTES = "votes", _("lost on votes")
    MONEY = "money", _("lost: the money left was less than its cost")
    EQUAL_SHARES = "equal_shares", _("lost under equal shares")


# The programme's columns copied into FrozenRules when voting starts; the database refuses to
# change them afterwards (trigger, migration 0003).
FROZEN_PROGRAMME_FIELDS = (
    "total_budget", "max_votes", "one_per_category", "min_voter_age", "residents_only",
    "votes_changeable", "winner_rule", "live_counts", "verified_eligibility",
)  # fmt: skip


class Programme(models.Model):
    """One city's public budget for one year, with dated stages and its voting rules."""

    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city"),
        on_delete=models.PROTECT,
        related_name="budget_programmes",
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    year = models.PositiveSmallIntegerField(_("year"))
    description = models.TextField(_("description"), blank=True)
    total_budget = models.DecimalField(_("total budget, UAH"), **MONEY)
    # Stages, all dates inclusive in Europe/Kyiv: submission, review, voting, results, then
    # implementation from `implementation_starts`.
    submission_opens = models.DateField(_("submission opens"))
    submission_closes = models.DateField(_("submission closes"))
    review_closes = models.DateField(_("review closes"))
    voting_opens = models.DateField(_("voting opens"))
    voting_closes = models.DateField(_("voting closes"))
    implementation_starts = models.DateField(_("implementation starts"))
    # Voting rules.
    max_votes = models.PositiveSmallIntegerField(
        _("projects a voter may back"), default=5, help_text=_("At least one.")
    )
    one_per_category = models.BooleanField(_("at most one project per category"), default=False)
    min_voter_age = models.PositiveSmallIntegerField(_("minimum voter age"), default=16)
    residents_only = models.BooleanField(_("residents of the city only"), default=True)
    votes_changeable = models.BooleanField(
        _("votes may be changed until voting closes"),
        default=False,
        help_text=_("A new confirmed ballot replaces the voter's previous one."),
    )
    winner_rule = models.CharField(
        _("winner rule"), max_length=20, choices=WinnerRule.choices, default=WinnerRule.CATEGORY
    )
    live_counts = models.BooleanField(
        _("show vote counts during voting"),
        default=False,
        help_text=_("By default the counts stay hidden until the results are published."),
    )
    verified_eligibility = models.BooleanField(
        _("age and residency must be verified"),
        default=False,
        help_text=_("By the identity provider's login or by a clerk who checked a document."),
    )
    # The last stage staff were told about (the daily announcement claims it with update()).
    announced_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("budget programme")
        verbose_name_plural = _("budget programmes")
        ordering = ["-year", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_budget__gt=0), name="programme_budget_positive"
            ),
            models.CheckConstraint(condition=Q(max_votes__gte=1), name="programme_max_votes_min"),
            models.CheckConstraint(
                condition=Q(submission_opens__lte=F("submission_closes"))
                & Q(submission_closes__lte=F("review_closes"))
                & Q(review_closes__lt=F("voting_opens"))
                & Q(voting_opens__lte=F("voting_closes"))
                & Q(voting_closes__lt=F("implementation_starts")),
                name="programme_stages_in_order",
            ),
        ]
        indexes = [models.Index(fields=["voting_closes"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("initiatives:programme", args=[self.slug])

    def stage_on(self, day: date) -> str:
        if day < self.submission_opens:
            return Stage.UPCOMING
        if day <= self.submission_closes:
            return Stage.SUBMISSION
        if day < self.voting_opens:
            return Stage.REVIEW
        if day <= self.voting_closes:
            return Stage.VOTING
        if day < self.implementation_starts:
            return Stage.RESULTS
        return Stage.IMPLEMENTATION

    @property
    def stage(self) -> str:
        return self.stage_on(timezone.localdate())

    def get_stage_display(self) -> str:
        return Stage(self.stage).label

    @property
    def voting_has_started(self) -> bool:
        return timezone.localdate() >= self.voting_opens


class Category(models.Model):
    """A part of the programme's budget with its own limit per project."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="categories"
    )
    name = models.CharField(_("name"), max_length=120)
    budget = models.DecimalField(_("budget, UAH"), **MONEY)
    max_project_cost = models.DecimalField(_("maximum cost of one project, UAH"), **MONEY)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["programme", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "name"], name="category_unique_name"),
            models.CheckConstraint(condition=Q(budget__gt=0), name="category_budget_positive"),
            models.CheckConstraint(
                condition=Q(max_project_cost__gt=0) & Q(max_project_cost__lte=F("budget")),
                name="category_max_cost_within_budget",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="districts"
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["programme", "name"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "name"], name="district_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Initiative(models.Model):
    """A project proposed by a resident. Status changes only through services."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("under review")
        REVISION = "revision", _("revision requested")
        ACCEPTED = "accepted", _("accepted for voting")
        REJECTED = "rejected", _("rejected")
        WITHDRAWN = "withdrawn", _("withdrawn")
        FUNDED = "funded", _("funded")
        NOT_FUNDED = "not_funded", _("not funded")

    class RejectionReason(models.TextChoices):
        OUTSIDE_COMPETENCE = "outside_competence", _("outside the council's competence")
        PRIVATE_LAND = "private_land", _("on private land")
        OVER_BUDGET = "over_budget", _("over the budget")
        DUPLICATE = "duplicate", _("duplicate of another project")
        OTHER = "other", _("other")

    # Statuses that take part in voting and the tally.
    ON_BALLOT = (Status.ACCEPTED, Status.FUNDED, Status.NOT_FUNDED)

    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.PROTECT, related_name="initiatives"
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="initiatives"
    )
    district = models.ForeignKey(
        District,
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="initiatives",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="budget_initiatives",
    )
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(_("summary"), max_length=300)
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=255)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # Sum of the cost lines, computed by the server (services) whenever the lines change.
    total_cost = models.DecimalField(_("total cost, UAH"), **MONEY, default=Decimal("0"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED
    )
    review_comment = models.TextField(_("working group comment"), blank=True)
    rejection_reason = models.CharField(
        _("reason for rejection"), max_length=24, choices=RejectionReason.choices, blank=True
    )
    # First submission: breaks ties in the tally, so a resubmission never changes it.
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_cost__gte=0), name="initiative_cost_gte_0"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="initiative_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="initiative_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="initiative_coordinates_both_or_none",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="initiative_rejection_has_reason",
            ),
            # The target of the votes' composite foreign key (see Vote).
            models.UniqueConstraint(
                fields=["id", "programme", "category"], name="initiative_programme_category"
            ),
        ]
        indexes = [models.Index(fields=["programme", "status"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("initiatives:detail", args=[self.programme.slug, self.pk])


def photo_original_upload_to(instance, filename: str) -> str:
    # Never reuse the uploader's file name: it may carry personal data.
    return f"initiatives/originals/{uuid.uuid4().hex}"


class InitiativePhoto(models.Model):
    """A photo of the project's place, uploaded by its author. The original (with its EXIF
    and GPS) stays in private storage; the public image and the thumbnail, re-encoded as
    JPEG without any metadata, are made by a Celery task (opencity.images), and only a photo
    with both, not hidden by staff, is ever shown."""

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="photos"
    )
    original = models.FileField(
        _("original"), storage=PrivateStorage(), upload_to=photo_original_upload_to
    )
    image = models.ImageField(_("public image"), upload_to="initiatives/photos/", blank=True)
    thumbnail = models.ImageField(_("thumbnail"), upload_to="initiatives/thumbs/", blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    hidden = models.BooleanField(_("hidden from the public"), default=False)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("project photo")
        verbose_name_plural = _("project photos")
        ordering = ["initiative", "id"]
        indexes = [
            # The sweep of photos whose task a broker outage lost.
            models.Index(
                fields=["created_at"],
                condition=Q(processed_at__isnull=True),
                name="initiativephoto_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"photo {self.pk} of initiative {self.initiative_id}"

    @property
    def is_public(self) -> bool:
        return bool(self.processed_at and self.image and self.thumbnail and not self.hidden)


class CostLine(models.Model):
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="cost_lines")
    position = models.PositiveSmallIntegerField(_("line"))
    description = models.CharField(_("item"), max_length=200)
    amount = models.DecimalField(_("amount, UAH"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("cost line")
        verbose_name_plural = _("cost lines")
        ordering = ["initiative", "position"]
        constraints = [
            models.UniqueConstraint(fields=["initiative", "position"], name="costline_unique_pos"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="costline_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class Ballot(models.Model):
    """One voter's ballot in one programme. Locked (per voter) while a vote is cast."""

    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="budget_ballots"
    )
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="ballots")
    notify = models.BooleanField(_("e-mail me the results and implementation news"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the confirm step (the receipt); a replacing ballot gets a new code and time.
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    code = models.CharField(_("receipt code"), max_length=12, blank=True, db_default="")

    class Meta:
        verbose_name = _("ballot")
        verbose_name_plural = _("ballots")
        constraints = [
            models.UniqueConstraint(fields=["voter", "programme"], name="ballot_one_per_voter"),
            # The target of the votes' composite foreign key (see Vote).
            models.UniqueConstraint(
                fields=["id", "voter", "programme"], name="ballot_voter_programme"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} / {self.voter_id}"


class Vote(models.Model):
    """A vote for one initiative. Final: never changed or deleted by the application.

    Two composite foreign keys (PostgreSQL, migration 0005) tie the copied columns to their
    source: (ballot, voter, programme) must be a ballot's, (initiative, programme, category)
    an initiative's. They replace six single-column checks, and no vote locks the shared
    programme or category rows (every vote of a surge took a key-share lock on them). The
    single-column keys below keep Django's PROTECT and joins, without their own check.
    """

    # Foreign keys without their own index where a composite index below leads with them:
    # fewer indexes keep vote inserts and bulk loads fast.
    ballot = models.ForeignKey(
        Ballot, on_delete=models.PROTECT, related_name="votes", db_index=False, db_constraint=False
    )
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="budget_votes",
        db_index=False,
        db_constraint=False,
    )
    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        related_name="votes",
        db_index=False,
        db_constraint=False,
    )
    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="votes",
        db_index=False,
        db_constraint=False,
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    # 1..max_votes, the n-th vote on the ballot: unique, so two votes can never take one slot.
    position = models.PositiveSmallIntegerField()
    # = category when the programme allows one vote per category, else NULL (not constrained).
    category_slot = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints = [
            models.UniqueConstraint(fields=["voter", "initiative"], name="vote_once_per_project"),
            models.UniqueConstraint(fields=["ballot", "position"], name="vote_unique_slot"),
            models.UniqueConstraint(
                fields=["ballot", "category_slot"], name="vote_one_per_category_slot"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="vote_position_gte_1"),
            models.CheckConstraint(
                condition=Q(category_slot__isnull=True) | Q(category_slot=F("category")),
                name="vote_slot_is_its_category",
            ),
        ]
        indexes = [
            # The tally: GROUP BY initiative over one programme's votes (index-only scan).
            models.Index(fields=["programme", "initiative"], name="vote_programme_initiative"),
            # Voters of a programme = their first votes: a small partial index to count them.
            models.Index(
                fields=["programme"], condition=Q(position=1), name="vote_programme_first"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voter_id} → {self.initiative_id}"


class FrozenRules(models.Model):
    """The rules and budgets in force, copied when voting starts; read-only in the database
    (migration 0004's triggers, also on the programme's rules and category budgets)."""

    programme = models.OneToOneField(
        Programme, on_delete=models.PROTECT, related_name="frozen_rules"
    )
    frozen_at = models.DateTimeField(_("frozen"))
    total_budget = models.DecimalField(_("total budget, UAH"), **MONEY)
    max_votes = models.PositiveSmallIntegerField(_("projects a voter may back"))
    one_per_category = models.BooleanField(_("at most one project per category"))
    min_voter_age = models.PositiveSmallIntegerField(_("minimum voter age"))
    residents_only = models.BooleanField(_("residents of the city only"))
    votes_changeable = models.BooleanField(_("votes may be changed until voting closes"))
    winner_rule = models.CharField(_("winner rule"), max_length=20, choices=WinnerRule.choices)
    live_counts = models.BooleanField(_("show vote counts during voting"))
    verified_eligibility = models.BooleanField(_("age and residency must be verified"))
    # [{"id": 1, "name": "...", "budget": "100000.00", "max_project_cost": "..."}, ...]
    categories = models.JSONField(_("categories and their budgets"))

    class Meta:
        verbose_name = _("frozen rules")
        verbose_name_plural = _("frozen rules")

    def __str__(self) -> str:
        return f"{self.programme_id} · {self.frozen_at:%Y-%m-%d %H:%M}"

    def category_budgets(self) -> dict[int, Decimal]:
        return {int(c["id"]): Decimal(c["budget"]) for c in self.categories}


class EligibilityCheck(models.Model):
    """A clerk of `city` saw a document proving the person's date of birth and residency."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eligibility_checks"
    )
    city = models.ForeignKey("cities.City", verbose_name=_("city"), on_delete=models.PROTECT)
    birth_date = models.DateField(_("date of birth"))
    resident = models.BooleanField(_("lives in the city"))
    document = models.CharField(_("document checked"), max_length=120)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(_("checked"), default=timezone.now)

    class Meta:
        verbose_name = _("eligibility check")
        verbose_name_plural = _("eligibility checks")
        constraints = [
            models.UniqueConstraint(fields=["user", "city"], name="eligibility_one_per_city"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.city_id}"


# Tally snapshots, implementation updates and the review queue live in results.py; imported
# here so that Django and every `from initiatives.models import …` find them.
from initiatives.models.results import (  # noqa: E402, F401
    ImplementationUpdate,
    InitiativeForReview,
    ResultRow,
    ResultSnapshot,
)
