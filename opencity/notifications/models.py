from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Pace(models.TextChoices):
    IMMEDIATE = "immediate", _("immediately")
    DAILY = "daily", _("daily digest")
    WEEKLY = "weekly", _("weekly digest")
    NONE = "none", _("never")


class Follow(models.Model):
    """A person follows one object (petition, programme, project, report, session)."""

    # Covered by the composite indexes below (once per object, by object): no single-column
    # indexes, so each follow made while signing updates two B-trees fewer.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows", db_index=False
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    object_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "content_type", "object_id"], name="follow_once_per_object"
            ),
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="follow_by_object")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.content_type_id}:{self.object_id}"


class NotificationSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="notification_settings",
    )
    auto_follow = models.BooleanField(
        _("follow what I sign, vote for, file or register for"), default=True
    )

    def __str__(self) -> str:
        return f"{self.user_id}: auto-follow {self.auto_follow}"


class Preference(models.Model):
    """How soon a person hears about one kind of event."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_paces"
    )
    kind = models.CharField(max_length=64)
    pace = models.CharField(_("pace"), max_length=10, choices=Pace.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="preference_once_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} {self.pace}"


class Event(models.Model):
    """Something happened to a followed object. `key` makes it happen once (a milestone of a
    petition is one event however many tallies see it)."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64)
    app = models.CharField(max_length=64)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    city = models.ForeignKey(
        "cities.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # People the service already mailed about this event itself (the author): no second mail.
    told = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(fanned_out_at__isnull=True),
                name="event_not_fanned_out",
            )
        ]

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    """One event for one person: at most once, by a unique constraint."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting for the digest")
        SENT = "sent", _("sent")
        SKIPPED = "skipped", _("not wanted")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    pace = models.CharField(max_length=10, choices=Pace.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="delivery_once_per_person"),
        ]
        indexes = [
            models.Index(
                fields=["pace", "user"],
                condition=Q(status="waiting"),
                name="delivery_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.user_id}: {self.status}"


class DataExport(models.Model):
    """A copy of everything the portal holds about one person, prepared by a task."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.created_at:%Y-%m-%d}"
