"""Open City problem reports: departments, a category tree per city, reports, photos,
"me too" and follows, reply templates and Open311 client apps.

Status changes only through `problems.services`; counts ("me too") are counted from rows.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from opencity.cities.storage import PrivateStorage
from problems import conf


class _Bilingual(models.Model):
    name_uk = models.CharField(_("name (Ukrainian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        if get_language() == "en" and self.name_en:
            return self.name_en
        return self.name_uk


class CityArea(models.Model):
    """The box a city's reports must fall in, and where its map opens."""

    city = models.OneToOneField(
        "cities.City",
        verbose_name=_("city"),
        on_delete=models.CASCADE,
        related_name="problem_area",
    )
    min_lat = models.FloatField(_("southern edge (latitude)"))
    max_lat = models.FloatField(_("northern edge (latitude)"))
    min_lon = models.FloatField(_("western edge (longitude)"))
    max_lon = models.FloatField(_("eastern edge (longitude)"))
    accepts_reports = models.BooleanField(_("accepts problem reports"), default=True)

    class Meta:
        verbose_name = _("city map area")
        verbose_name_plural = _("city map areas")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_lat__lt=models.F("max_lat"))
                & Q(min_lon__lt=models.F("max_lon"))
                & Q(min_lat__gte=-90)
                & Q(max_lat__lte=90)
                & Q(min_lon__gte=-180)
                & Q(max_lon__lte=180),
                name="cityarea_box_valid",
            )
        ]

    def __str__(self) -> str:
        return str(self.city)

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon

    @property
    def center(self) -> tuple[float, float]:
        return ((self.min_lat + self.max_lat) / 2, (self.min_lon + self.max_lon) / 2)


class Department(_Bilingual):
    """A municipal department that answers reports of its categories."""

    city = models.ForeignKey(
        "cities.City", verbose_name=_("city"), on_delete=models.CASCADE, related_name="departments"
    )
    answer_working_days = models.PositiveSmallIntegerField(
        _("answer time (working days)"),
        default=conf.DEFAULT_ANSWER_WORKING_DAYS,
        help_text=_("Weekends and Ukrainian public holidays are not counted."),
    )
    email = models.EmailField(_("e-mail for new reports"), blank=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["city", "name_uk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(answer_working_days__gte=1), name="department_answer_days_positive"
            ),
            models.UniqueConstraint(fields=["city", "name_uk"], name="department_unique_name"),
        ]


class Category(_Bilingual):
    """A node of a city's category tree (Roads → Potholes). Reports are filed under leaves."""

    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city"),
        on_delete=models.CASCADE,
        related_name="problem_categories",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("answering department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="categories",
    )
    is_active = models.BooleanField(_("open for new reports"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["city", "position", "name_uk"]
        constraints = [
            models.UniqueConstraint(
                fields=["city", "parent", "name_uk"],
                name="problem_category_unique_name",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        if self.parent_id and self.parent:
            return f"{self.parent.name} → {self.name}"
        return self.name


class Report(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("new")
        ACCEPTED = "accepted", _("accepted")
        IN_PROGRESS = "in_progress", _("in progress")
        DONE = "done", _("done")
        REJECTED = "rejected", _("rejected")
        DUPLICATE = "duplicate", _("duplicate")

    class Source(models.TextChoices):
        WEB = "web", _("web site")
        OPEN311 = "open311", _("Open311 app")

    OPEN_STATUSES = (Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS)
    CLOSED_STATUSES = (Status.DONE, Status.REJECTED, Status.DUPLICATE)

    city = models.ForeignKey(
        "cities.City", verbose_name=_("city"), on_delete=models.PROTECT, related_name="problems"
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="reports"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    # PROTECT: the city must always be able to reach the person who reported.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="problem_reports",
    )
    # Name shown to the public; empty means "anonymous to the public".
    public_name = models.CharField(_("name shown publicly"), max_length=150, blank=True)
    # Contact given through Open311 by an app's user without an account (city staff only).
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_name = models.CharField(_("contact name"), max_length=150, blank=True)
    title = models.CharField(_("title"), max_length=conf.TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address or landmark"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default="new")
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default="web")
    api_app = models.ForeignKey(
        "problems.ApiApp",
        verbose_name=_("Open311 app"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("filed"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    answer_due = models.DateField(_("answer due"), null=True, blank=True)
    answer_text = models.TextField(_("department's answer"), blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answered_on_time = models.BooleanField(_("answered on time"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("duplicate of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )
    # Abusive text is hidden from the public but kept for audit.
    text_hidden = models.BooleanField(_("text hidden"), default=False)
    # "Is it fixed?" four weeks after done; a "no" reopens the report once.
    fixed_asked_at = models.DateTimeField(null=True, blank=True)
    fixed_answer = models.CharField(max_length=3, blank=True)
    reopened_at = models.DateTimeField(_("reopened"), null=True, blank=True)

    class Meta:
        verbose_name = _("problem report")
        verbose_name_plural = _("problem reports")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The map's bounding-box query reads only the index (lat range, then lon).
            models.Index(
                fields=["lat", "lon"],
                include=["status", "category", "city", "department", "created_at"],
                name="problem_bbox",
            ),
            # A city's map (the usual case: the map on a city's page) scans only that city.
            models.Index(
                fields=["city", "lat", "lon"],
                include=["status", "category", "department", "created_at"],
                name="problem_city_bbox",
            ),
            models.Index(fields=["city", "-created_at", "-id"], name="problem_city_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="problem_status_newest"),
            models.Index(
                fields=["city", "status", "-created_at", "-id"], name="problem_city_status"
            ),
            models.Index(fields=["-created_at", "-id"], name="problem_newest"),
            # The list filtered by category (a leaf or a parent's few leaves) or department:
            # the newest first, read from the index without visiting the rows it skips.
            models.Index(fields=["category", "-created_at", "-id"], name="problem_category_newest"),
            models.Index(
                fields=["department", "-created_at", "-id"], name="problem_department_newest"
            ),
            models.Index(fields=["department", "status", "answer_due"], name="problem_queue"),
            models.Index(fields=["reporter", "-created_at"], name="problem_by_reporter"),
            models.Index(
                fields=["closed_at"], condition=Q(status="done"), name="problem_done_closed"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lon__isnull=True)
                | Q(lat__gte=-90, lat__lte=90, lon__gte=-180, lon__lte=180),
                name="problem_point_complete",
            ),
            models.CheckConstraint(
                condition=Q(lat__isnull=False) | ~Q(address=""), name="problem_has_place"
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="problem_rejected_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="duplicate") | Q(duplicate_of__isnull=False),
                name="problem_duplicate_has_original",
            ),
            models.CheckConstraint(
                condition=Q(fixed_answer__in=["", "yes", "no"]), name="problem_fixed_answer"
            ),
            models.CheckConstraint(
                condition=Q(reporter__isnull=False) | ~Q(contact_email=""),
                name="problem_has_reporter",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("problems:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return bool(
            self.is_open
            and self.answered_at is None
            and self.answer_due
            and self.answer_due < timezone.localdate()
        )


def original_upload_to(instance, filename: str) -> str:
    # Never reuse the uploader's file name: it may carry personal data.
    return f"problems/originals/{uuid.uuid4().hex}"


class Photo(models.Model):
    """An uploaded photo. The original (with its EXIF) stays in private storage; the public
    image and the thumbnail, re-encoded without any metadata, are made by a Celery task, and
    only a photo with both is ever shown."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="photos"
    )
    original = models.FileField(
        _("original"), storage=PrivateStorage(), upload_to=original_upload_to
    )
    image = models.ImageField(_("public image"), upload_to="problems/photos/", blank=True)
    thumbnail = models.ImageField(_("thumbnail"), upload_to="problems/thumbs/", blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    hidden = models.BooleanField(_("hidden from the public"), default=False)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["report", "id"]

    def __str__(self) -> str:
        return f"photo {self.pk} of #{self.report_id}"

    @property
    def is_public(self) -> bool:
        return bool(self.processed_at and self.image and self.thumbnail and not self.hidden)


class Support(models.Model):
    """ "Me too": one per person per report, enforced by the database; counted from rows."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="supports"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="problem_supports",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("“me too”")
        verbose_name_plural = _("“me too”")
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="support_one_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → #{self.report_id}"


class Follow(models.Model):
    """A person who gets an e-mail on every status change of a report."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="follows"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="problem_follows",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="follow_one_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → #{self.report_id}"


class ReplyTemplate(models.Model):
    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city"),
        on_delete=models.CASCADE,
        related_name="problem_reply_templates",
    )
    title = models.CharField(_("title"), max_length=120)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        ordering = ["city", "title"]

    def __str__(self) -> str:
        return self.title


class ApiApp(models.Model):
    """An Open311 client app allowed to file reports. Only a hash of its key is stored."""

    name = models.CharField(_("app name"), max_length=120)
    contact_email = models.EmailField(_("developer's e-mail"))
    key_prefix = models.CharField(_("key starts with"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 app")
        verbose_name_plural = _("Open311 apps")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
