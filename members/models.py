import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from opencity.cities.models import City
from opencity.cities.storage import private_storage


class MembershipEvent(models.Model):
    """One change of a city's membership in the association. Current status = latest event."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("candidate")
        MEMBER = "member", _("member")
        SUSPENDED = "suspended", _("suspended")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Body(models.TextChoices):
        BOARD = "board", _("board")
        ASSEMBLY = "assembly", _("general assembly")
        FOUNDING = "founding", _("founding meeting")
        SECRETARIAT = "secretariat", _("secretariat")

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="membership_events"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    founding = models.BooleanField(_("founding member"), default=False)
    effective_on = models.DateField(_("effective from"))
    decided_by = models.CharField(_("decided by"), max_length=12, choices=Body.choices)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)
    decision_ref = models.CharField(_("decision reference"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership event")
        verbose_name_plural = _("membership history")
        ordering = ["city", "effective_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["city", "effective_on", "status"], name="membership_event_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(founding=False) | models.Q(status="member"),
                name="membership_founding_only_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.city}: {self.get_status_display()} ({self.effective_on})"


class EProduct(models.Model):
    """A municipal e-product (solution) in the best-practices catalogue."""

    class Category(models.TextChoices):
        E_DEMOCRACY = "e_democracy", _("e-democracy")
        E_SERVICES = "e_services", _("e-services")
        OPEN_DATA = "open_data", _("open data")
        INTERNAL = "internal", _("internal management")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    description = models.TextField(_("description"), blank=True)
    developer = models.CharField(_("developer"), max_length=200, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    link = models.URLField(_("link"), blank=True)

    class Meta:
        verbose_name = _("e-product")
        verbose_name_plural = _("e-products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CityEService(models.Model):
    """A city runs an e-product since a date: the adoption record of the catalogue."""

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="eservices"
    )
    product = models.ForeignKey(
        EProduct, verbose_name=_("e-product"), on_delete=models.PROTECT, related_name="adoptions"
    )
    since = models.DateField(_("in use since"))
    results = models.TextField(_("note on results"), blank=True)
    source = models.CharField(
        _("source"), max_length=300, blank=True, help_text=_("Where the record comes from.")
    )

    class Meta:
        verbose_name = _("city e-service")
        verbose_name_plural = _("city e-services")
        ordering = ["city", "product"]
        constraints = [
            models.UniqueConstraint(fields=["city", "product"], name="city_eservice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.city} — {self.product}"


class CityContact(models.Model):
    """Who to call in a city. Association staff only: never shown on public pages."""

    city = models.OneToOneField(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="contact"
    )
    mayor = models.CharField(_("mayor"), max_length=150, blank=True)
    coordinator = models.CharField(_("coordinator"), max_length=150, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("city contact")
        verbose_name_plural = _("city contacts")

    def __str__(self) -> str:
        return str(self.city)


def decision_upload_to(instance, filename: str) -> str:
    # Never reuse the uploader's file name: it may be guessable or carry personal data.
    return f"applications/{uuid.uuid4().hex}.pdf"


class MembershipApplication(models.Model):
    """A city's application to join, from its representative to the secretariat and board."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")
        INFO_REQUESTED = "info_requested", _("more information requested")
        RECOMMENDED = "recommended", _("recommended to the board")
        DECLINED = "declined", _("declined")
        ACCEPTED = "accepted", _("accepted")

    OPEN_STATUSES = (Status.SUBMITTED, Status.INFO_REQUESTED, Status.RECOMMENDED)

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="applications"
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("applicant"),
        on_delete=models.PROTECT,
        related_name="membership_applications",
    )
    council_decision_number = models.CharField(_("council decision number"), max_length=60)
    council_decision_date = models.DateField(_("council decision date"))
    contact_name = models.CharField(_("contact person"), max_length=150)
    contact_email = models.EmailField(_("contact e-mail"))
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    message = models.TextField(_("message to the secretariat"), blank=True)
    decision_file = models.FileField(
        _("council decision (PDF)"), storage=private_storage, upload_to=decision_upload_to
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    secretariat_note = models.TextField(
        _("note to the applicant"),
        blank=True,
        help_text=_("What the secretariat asked for or why it declined; sent by e-mail."),
    )
    membership_event = models.OneToOneField(
        MembershipEvent,
        verbose_name=_("membership decision"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
    )
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("membership application")
        verbose_name_plural = _("membership applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["city"],
                condition=models.Q(status__in=["submitted", "info_requested", "recommended"]),
                name="membership_application_one_open_per_city",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accepted") | models.Q(membership_event__isnull=False),
                name="membership_application_accepted_has_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.city} ({self.get_status_display()})"


_money = {"max_digits": 12, "decimal_places": 2}


class DuesTier(models.Model):
    """Entry fee and annual dues for cities whose population falls in [min, max]."""

    name = models.CharField(_("name"), max_length=100)
    min_population = models.PositiveIntegerField(_("population from"))
    max_population = models.PositiveIntegerField(
        _("population up to"), null=True, blank=True, help_text=_("Empty: no upper limit.")
    )
    entry_fee = models.DecimalField(
        _("entry fee, UAH"), validators=[MinValueValidator(Decimal("0"))], **_money
    )
    annual_dues = models.DecimalField(
        _("annual dues, UAH"), validators=[MinValueValidator(Decimal("0"))], **_money
    )

    class Meta:
        verbose_name = _("dues tier")
        verbose_name_plural = _("dues tiers")
        ordering = ["min_population"]
        constraints = [
            models.UniqueConstraint(fields=["min_population"], name="dues_tier_unique_min"),
            models.CheckConstraint(
                condition=models.Q(max_population__isnull=True)
                | models.Q(max_population__gte=models.F("min_population")),
                name="dues_tier_range",
            ),
            models.CheckConstraint(
                condition=models.Q(entry_fee__gte=0) & models.Q(annual_dues__gte=0),
                name="dues_tier_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        upper = self.max_population if self.max_population is not None else "…"
        return f"{self.name} ({self.min_population}–{upper})"


class Invoice(models.Model):
    """What a city owes for one year: annual dues, plus the entry fee in its first year."""

    city = models.ForeignKey(
        City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="invoices"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    tier = models.ForeignKey(
        DuesTier,
        verbose_name=_("tier"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invoices",
    )
    annual_dues = models.DecimalField(_("annual dues, UAH"), **_money)
    entry_fee = models.DecimalField(_("entry fee, UAH"), default=Decimal("0"), **_money)
    issued_on = models.DateField(_("issued on"))
    number = models.CharField(_("number"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-year", "city"]
        constraints = [
            models.UniqueConstraint(fields=["city", "year"], name="invoice_one_per_city_year"),
            models.CheckConstraint(
                condition=models.Q(annual_dues__gte=0) & models.Q(entry_fee__gte=0),
                name="invoice_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(year__gte=2015) & models.Q(year__lte=2100),
                name="invoice_year_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} — {self.city} {self.year}"

    @property
    def total(self) -> Decimal:
        return self.annual_dues + self.entry_fee


class Payment(models.Model):
    """Money received against one invoice; several partial payments are normal."""

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(
        _("amount, UAH"), validators=[MinValueValidator(Decimal("0.01"))], **_money
    )
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("bank reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} UAH — {self.invoice}"


class OGPParticipation(models.Model):
    """A city's membership of OGP Local (Open Government Partnership) and its action plan."""

    city = models.OneToOneField(
        City, verbose_name=_("city"), on_delete=models.CASCADE, related_name="ogp"
    )
    member_since = models.DateField(_("OGP Local member since"))
    action_plan_start = models.DateField(_("action plan from"), null=True, blank=True)
    action_plan_end = models.DateField(_("action plan until"), null=True, blank=True)
    forum_exists = models.BooleanField(_("multi-stakeholder forum exists"), default=False)

    class Meta:
        verbose_name = _("OGP Local participation")
        verbose_name_plural = _("OGP Local participation")
        ordering = ["city"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action_plan_start__isnull=True)
                | models.Q(action_plan_end__isnull=True)
                | models.Q(action_plan_end__gte=models.F("action_plan_start")),
                name="ogp_action_plan_period",
            ),
        ]

    def __str__(self) -> str:
        return str(self.city)


class OGPCommitment(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("not started")
        IN_PROGRESS = "in_progress", _("in progress")
        COMPLETED = "completed", _("completed")
        WITHDRAWN = "withdrawn", _("withdrawn")

    participation = models.ForeignKey(
        OGPParticipation,
        verbose_name=_("OGP Local participation"),
        on_delete=models.CASCADE,
        related_name="commitments",
    )
    title = models.CharField(_("title"), max_length=300)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NOT_STARTED
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)

    class Meta:
        verbose_name = _("OGP commitment")
        verbose_name_plural = _("OGP commitments")
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return self.title


class OGPReport(models.Model):
    participation = models.ForeignKey(
        OGPParticipation,
        verbose_name=_("OGP Local participation"),
        on_delete=models.CASCADE,
        related_name="reports",
    )
    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("link"))
    published_on = models.DateField(_("published on"), null=True, blank=True)

    class Meta:
        verbose_name = _("OGP report")
        verbose_name_plural = _("OGP reports")
        ordering = ["-published_on", "id"]

    def __str__(self) -> str:
        return self.title


# Council surveys live in their own package; imported here so Django registers the models.
from members.surveys.models import (  # noqa: E402, F401
    Answer,
    Choice,
    Invitation,
    MatrixAnswer,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    Section,
    Wave,
)
