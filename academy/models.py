"""E-City Academy: courses, sessions, registrations with a waitlist, certificates, experts.

Invariants that belong to rows live in the database: one active registration per person and
session, waitlist positions unique per session, a rating between 1 and 5, one feedback and
one certificate per registration. Capacity (a count over rows) is kept by the services, which
lock the session row for every registration and cancellation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from opencity.cities.storage import private_storage

LANGUAGE_CHOICES = [
    ("uk", _("Ukrainian")),
    ("en", _("English")),
    ("pl", _("Polish")),
    ("de", _("German")),
    ("fr", _("French")),
]


class Topic(models.Model):
    """A subject of courses and an expertise area of experts."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name_uk = models.CharField(_("name (Ukrainian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["name_uk"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if get_language() == "en" else self.name_uk


class Course(models.Model):
    class Format(models.TextChoices):
        ONLINE = "online", _("online")
        IN_PERSON = "in_person", _("in person")
        HYBRID = "hybrid", _("hybrid")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    description = models.TextField(_("description"))
    audience = models.CharField(
        _("audience"),
        max_length=300,
        help_text=_("Who the course is for: mayors, deputies, council staff, activists…"),
    )
    topics = models.ManyToManyField(Topic, verbose_name=_("topics"), related_name="courses")
    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    is_published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


def material_upload_to(instance: CourseMaterial, filename: str) -> str:
    return f"academy/materials/{instance.course_id}/{filename}"


class CourseMaterial(models.Model):
    """A link or an uploaded file (exactly one of the two)."""

    course = models.ForeignKey(
        Course, verbose_name=_("course"), on_delete=models.CASCADE, related_name="materials"
    )
    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("link"), blank=True)
    file = models.FileField(_("file"), upload_to=material_upload_to, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("course material")
        verbose_name_plural = _("course materials")
        ordering = ["course", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(url="") & ~Q(file="")) | (~Q(url="") & Q(file="")),
                name="academy_material_link_xor_file",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def href(self) -> str:
        return self.url or self.file.url


class Session(models.Model):
    """One run of a course: a date, a place or meeting link, a number of seats."""

    course = models.ForeignKey(
        Course, verbose_name=_("course"), on_delete=models.PROTECT, related_name="sessions"
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    hours = models.DecimalField(
        _("hours"),
        max_digits=5,
        decimal_places=1,
        blank=True,
        help_text=_("Training hours on the certificate; left blank, taken from start and end."),
    )
    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="academy_sessions",
        help_text=_("Where it takes place (blank for online sessions)."),
    )
    venue = models.CharField(
        _("venue"), max_length=300, blank=True, help_text=_("Shown to registered people only.")
    )
    meeting_url = models.URLField(
        _("meeting link"), blank=True, help_text=_("Shown to registered people only.")
    )
    capacity = models.PositiveIntegerField(_("seats"))
    trainers = models.ManyToManyField(
        "Expert", verbose_name=_("trainers"), blank=True, related_name="sessions"
    )
    registration_deadline = models.DateTimeField(
        _("registration deadline"),
        help_text=_("After it nobody can register or cancel."),
    )
    priority_until = models.DateTimeField(
        _("priority window ends"),
        null=True,
        blank=True,
        help_text=_("Until then only staff of member cities can register."),
    )
    is_cancelled = models.BooleanField(_("cancelled"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="academy_session_ends_after"
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="academy_session_capacity"),
            models.CheckConstraint(
                condition=Q(registration_deadline__lte=models.F("starts_at")),
                name="academy_session_deadline_before_start",
            ),
            models.CheckConstraint(
                condition=Q(priority_until__isnull=True)
                | Q(priority_until__lte=models.F("registration_deadline")),
                name="academy_session_priority_before_deadline",
            ),
            models.CheckConstraint(condition=Q(hours__gt=0), name="academy_session_hours"),
        ]
        indexes = [models.Index(fields=["starts_at"])]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{self.course.title} — {local:%d.%m.%Y %H:%M}"

    def save(self, *args, **kwargs):
        # A derived default, not a workflow: hours on the certificate follow the timetable.
        if self.hours is None and self.starts_at and self.ends_at:
            self.hours = self.derived_hours()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("academy:session_detail", args=[self.pk])

    def derived_hours(self) -> Decimal:
        seconds = Decimal((self.ends_at - self.starts_at).total_seconds())
        return (seconds / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def is_past(self) -> bool:
        return self.ends_at <= timezone.now()

    def registration_open(self, now=None) -> bool:
        now = now or timezone.now()
        return not self.is_cancelled and now < self.registration_deadline

    def in_priority_window(self, now=None) -> bool:
        now = now or timezone.now()
        return self.priority_until is not None and now < self.priority_until


class Registration(models.Model):
    class Status(models.TextChoices):
        SEATED = "seated", _("registered")
        WAITLISTED = "waitlisted", _("on the waitlist")
        CANCELLED = "cancelled", _("cancelled")

    session = models.ForeignKey(
        Session, verbose_name=_("session"), on_delete=models.PROTECT, related_name="registrations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("participant"),
        on_delete=models.CASCADE,
        related_name="academy_registrations",
    )
    # The city the participant represents: their StaffRole city, else their home city.
    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city represented"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="academy_registrations",
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    waitlist_position = models.PositiveIntegerField(_("waitlist position"), null=True, blank=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    promoted_at = models.DateTimeField(_("promoted from the waitlist"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    attended = models.BooleanField(_("attended"), default=False)
    attendance_marked_at = models.DateTimeField(_("attendance marked"), null=True, blank=True)

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["session", "status", "waitlist_position", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"],
                condition=~Q(status="cancelled"),
                name="academy_one_active_registration",
            ),
            models.UniqueConstraint(
                fields=["session", "waitlist_position"],
                condition=Q(status="waitlisted"),
                name="academy_unique_waitlist_position",
            ),
            models.CheckConstraint(
                condition=Q(status="waitlisted", waitlist_position__isnull=False)
                | (~Q(status="waitlisted") & Q(waitlist_position__isnull=True)),
                name="academy_waitlist_position_iff_waitlisted",
            ),
            models.CheckConstraint(
                condition=Q(attended=False) | Q(status="seated"),
                name="academy_only_seated_attend",
            ),
        ]
        indexes = [
            models.Index(fields=["session", "status"]),
            models.Index(fields=["user", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.session}"


class Feedback(models.Model):
    registration = models.OneToOneField(
        Registration,
        verbose_name=_("registration"),
        on_delete=models.CASCADE,
        related_name="feedback",
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    comment = models.TextField(_("comment"), blank=True, max_length=3000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="academy_feedback_rating_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration}: {self.rating}"


class Certificate(models.Model):
    """What is printed on a certificate, frozen at issue, and the unguessable code."""

    registration = models.OneToOneField(
        Registration,
        verbose_name=_("registration"),
        on_delete=models.PROTECT,
        related_name="certificate",
    )
    code = models.CharField(_("verification code"), max_length=32, unique=True)
    holder_name = models.CharField(_("name"), max_length=150)
    course_title = models.CharField(_("course"), max_length=200)
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1)
    session_date = models.DateField(_("date"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    # Outside MEDIA_ROOT (the proxy serves that publicly): only the holder downloads it.
    pdf = models.FileField(
        _("PDF"), upload_to="academy/certificates/", storage=private_storage, blank=True
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason for revocation"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("academy:certificate_check", args=[self.code])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


def expert_photo_upload_to(instance: Expert, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower()
    return f"academy/experts/{instance.slug}.{extension}"


class Expert(models.Model):
    """A profile in the directory of e-government experts; trainers are experts."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="expert_profile",
        help_text=_("The account that may edit this profile."),
    )
    full_name = models.CharField(_("full name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    headline = models.CharField(_("position"), max_length=200, blank=True)
    bio = models.TextField(_("about"), blank=True, max_length=5000)
    photo = models.ImageField(_("photo"), upload_to=expert_photo_upload_to, blank=True)
    expertise = models.ManyToManyField(
        Topic, verbose_name=_("expertise areas"), blank=True, related_name="experts"
    )
    languages = models.CharField(
        _("languages"), max_length=60, blank=True, help_text=_("Language codes, comma-separated.")
    )
    cities = models.ManyToManyField(
        "cities.City",
        verbose_name=_("cities worked with"),
        blank=True,
        related_name="academy_experts",
    )
    products = models.ManyToManyField(
        "members.EProduct",
        verbose_name=_("e-products helped with"),
        blank=True,
        related_name="experts",
    )
    email = models.EmailField(_("contact e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    website = models.URLField(_("website"), blank=True)
    is_public = models.BooleanField(_("shown in the directory"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("expert")
        verbose_name_plural = _("experts")
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("academy:expert_detail", args=[self.slug])

    @property
    def language_codes(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @property
    def language_names(self) -> list[str]:
        names = dict(LANGUAGE_CHOICES)
        return [str(names.get(code, code)) for code in self.language_codes]
