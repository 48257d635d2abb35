"""Local e-petitions: per-city rules, petitions and signatures.

Status changes only through `petitions.services`; the signature count is written only by the
tally (`services.petition_tally`), recomputed from signature rows.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from petitions import conf


class PetitionRules(models.Model):
    """One city's petition rules. A petition copies them when it is published."""

    city = models.OneToOneField(
        "cities.City",
        verbose_name=_("city"),
        on_delete=models.CASCADE,
        related_name="petition_rules",
    )
    threshold = models.PositiveIntegerField(
        _("signature threshold"), default=conf.DEFAULT_THRESHOLD
    )
    collection_days = models.PositiveSmallIntegerField(
        _("collection period, days"),
        default=conf.DEFAULT_COLLECTION_DAYS,
        help_text=_("At most 90 days."),
    )
    respond_working_days = models.PositiveSmallIntegerField(
        _("days to respond (working days)"), default=conf.DEFAULT_RESPOND_WORKING_DAYS
    )
    moderation_working_days = models.PositiveSmallIntegerField(
        _("moderation deadline (working days)"), default=conf.DEFAULT_MODERATION_WORKING_DAYS
    )
    require_identity = models.BooleanField(
        _("signers must confirm their identity"),
        default=False,
        help_text=_(
            "Accept signatures only from people identified by BankID or ID.gov.ua "
            "(the portal's identity provider), not just by a confirmed e-mail address."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("petition rules")
        verbose_name_plural = _("petition rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(collection_days__gte=1) & Q(collection_days__lte=90),
                name="petition_rules_collection_days_1_90",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=1), name="petition_rules_threshold_positive"
            ),
            models.CheckConstraint(
                condition=Q(respond_working_days__gte=1) & Q(moderation_working_days__gte=1),
                name="petition_rules_deadlines_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.city)


class Petition(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("awaiting moderation")
        COLLECTING = "collecting", _("collecting signatures")
        REACHED = "reached", _("threshold reached")
        ANSWERED = "answered", _("answered")
        REJECTED = "rejected", _("rejected")
        WITHDRAWN = "withdrawn", _("withdrawn")
        CLOSED = "closed", _("closed unsuccessful")

    class RejectionGround(models.TextChoices):
        CONSTITUTIONAL_ORDER = (
            "constitutional_order",
            _("calls to overthrow the constitutional order or break up Ukraine's territory"),
        )
        WAR_PROPAGANDA = "war_propaganda", _("war propaganda")
        VIOLENCE = "violence", _("calls to violence")
        HATRED = "hatred", _("incitement of ethnic, racial or religious hatred")
        TERRORISM = "terrorism", _("calls to terrorism")
        HUMAN_RIGHTS = "human_rights", _("attacks on human rights and freedoms")
        COMPETENCE = "competence", _("outside the council's competence")
        DUPLICATE = "duplicate", _("duplicate of an open petition")
        PERSONAL = "personal", _("purely personal interest")
        OBSCENE = "obscene", _("obscene language")

    class Decision(models.TextChoices):
        SUPPORTED = "supported", _("supported")
        PARTLY = "partly", _("partly supported")
        NOT_SUPPORTED = "not_supported", _("not supported")

    #: visible to everyone
    PUBLIC_STATUSES = (Status.COLLECTING, Status.REACHED, Status.ANSWERED, Status.CLOSED)

    city = models.ForeignKey(
        "cities.City", verbose_name=_("city"), on_delete=models.PROTECT, related_name="petitions"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="petitions",
    )
    author_name = models.CharField(_("author's name"), max_length=150)
    title = models.CharField(_("title"), max_length=conf.TITLE_MAX_LENGTH)
    text = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    moderation_due = models.DateField(_("moderation deadline"), null=True, blank=True)
    # The city's rules, copied at publication and kept.
    threshold = models.PositiveIntegerField(_("signature threshold"), null=True, blank=True)
    collection_days = models.PositiveSmallIntegerField(_("collection period, days"), null=True)
    respond_working_days = models.PositiveSmallIntegerField(
        _("days to respond (working days)"), null=True, blank=True
    )
    require_identity = models.BooleanField(_("signers must confirm their identity"), default=False)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    collection_ends_at = models.DateTimeField(_("collection ends"), null=True, blank=True)
    reached_at = models.DateTimeField(_("threshold reached"), null=True, blank=True)
    response_due = models.DateField(_("response deadline"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    rejection_ground = models.CharField(
        _("rejection ground"), max_length=32, choices=RejectionGround.choices, blank=True
    )
    rejection_comment = models.TextField(_("moderator's comment"), blank=True)
    response_decision = models.CharField(
        _("decision"), max_length=16, choices=Decision.choices, blank=True
    )
    response_text = models.TextField(_("official response"), blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    # Fixed when the response is published: by the response deadline (Kyiv date) or not.
    answered_on_time = models.BooleanField(_("answered on time"), null=True, blank=True)
    # Written only by the tally.
    signature_count = models.PositiveIntegerField(_("signatures"), default=0)
    # Of those, the ones entered from paper at a service centre (paper/); also the tally's.
    paper_signature_count = models.PositiveIntegerField(
        _("of them on paper"), default=0, db_default=0
    )
    # Full-text document of title and text, kept by a PostgreSQL trigger (migration 0005);
    # NULL on SQLite, where search falls back to a case-insensitive match.
    search_document = SearchVectorField(null=True, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True)
    # Claimed by the beat jobs so each reminder or fan-out happens once.
    moderation_overdue_at = models.DateTimeField(null=True, blank=True)
    response_overdue_at = models.DateTimeField(null=True, blank=True)
    signers_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("petition")
        verbose_name_plural = _("petitions")
        ordering = ["-published_at", "-id"]
        indexes = [
            # Sorting the whole public list; drafts sort last (count 0, no date).
            models.Index(fields=["-signature_count", "-id"], name="petition_most_signed"),
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(published_at__isnull=False),
                name="petition_newest",
            ),
            models.Index(
                fields=["status", "-signature_count", "-id"], name="petition_status_signed"
            ),
            models.Index(fields=["status", "-published_at", "-id"], name="petition_status_newest"),
            models.Index(fields=["status", "collection_ends_at"], name="petition_ending"),
            # "Ending soon" lists the petitions that can still be signed.
            models.Index(
                fields=["collection_ends_at", "id"],
                condition=Q(status__in=["collecting", "reached"]),
                name="petition_open_ending",
            ),
            models.Index(fields=["city", "status", "-signature_count"], name="petition_city"),
            models.Index(fields=["author", "-created_at"], name="petition_by_author"),
            models.Index(fields=["status", "moderation_due"], name="petition_moderation"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(collection_days__isnull=True)
                | (Q(collection_days__gte=1) & Q(collection_days__lte=90)),
                name="petition_collection_days_1_90",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_ground=""),
                name="petition_rejected_has_ground",
            ),
            models.CheckConstraint(
                condition=~Q(status="answered") | ~Q(response_decision=""),
                name="petition_answered_has_decision",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "submitted", "rejected", "withdrawn"])
                | (Q(threshold__isnull=False) & Q(published_at__isnull=False)),
                name="petition_published_has_rules",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("petitions:detail", args=[self.pk])

    @property
    def is_public(self) -> bool:
        return self.status in self.PUBLIC_STATUSES

    @property
    def online_signature_count(self) -> int:
        return max(0, self.signature_count - self.paper_signature_count)

    @property
    def percent(self) -> int:
        if not self.threshold:
            return 0
        return min(100, self.signature_count * 100 // self.threshold)


class ModerationQueue(Petition):
    """Admin's moderation queue: submitted petitions, nearest deadline first."""

    class Meta:
        proxy = True
        verbose_name = _("petition awaiting moderation")
        verbose_name_plural = _("moderation queue")


class Signature(models.Model):
    """One person's signature. One per person per petition, enforced by the database."""

    # No single-column indexes on the two keys: the composite indexes below lead with each
    # (one per person, by petition, by user), and every signature would otherwise update two
    # more B-trees during a surge.
    petition = models.ForeignKey(
        Petition,
        verbose_name=_("petition"),
        on_delete=models.CASCADE,
        related_name="signatures",
        db_index=False,
    )
    # PROTECT: a signature on the official record outlives nothing silently; an account with
    # signatures is deactivated rather than deleted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="petition_signatures",
        db_index=False,
    )
    created_at = models.DateTimeField(_("signed"), auto_now_add=True)
    notify_on_answer = models.BooleanField(_("e-mail me the response"), default=True)
    # The name shown on the public list, as it was at signing: later profile edits and the
    # deletion of the account do not rewrite it. Empty when removed at the person's request.
    public_name = models.CharField(_("public name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["petition", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["petition", "user"], name="signature_one_per_person"),
        ]
        indexes = [
            models.Index(fields=["petition", "created_at", "id"], name="signature_by_petition"),
            models.Index(fields=["user", "-created_at"], name="signature_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.petition_id}"
