from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """Who changed what, when, from which state to which, and why. Written by services only."""

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Denormalised for scoping in admin: a clerk sees only their city's entries.
    city = models.ForeignKey(
        "cities.City",
        verbose_name=_("city"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    action = models.CharField(_("action"), max_length=64)
    from_state = models.CharField(_("from"), max_length=64, blank=True)
    to_state = models.CharField(_("to"), max_length=64, blank=True)
    reason = models.TextField(_("why"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_state} → {self.to_state}"


class OutboundEmail(models.Model):
    """An e-mail recorded in the same transaction as the change that causes it (outbox).

    `key` makes a notification unique: recording the same key twice is a no-op, so no one
    gets two copies even if a service or task runs twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField(_("to"))
    language = models.CharField(max_length=8)
    subject = models.CharField(_("subject"), max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # Extra mail headers (List-Unsubscribe, List-Unsubscribe-Post: RFC 8058).
    headers = models.JSONField(default=dict, blank=True)
    # One of many alike (followers' notices, digests): delivered from the "bulk" queue, after
    # the mail someone is waiting for.
    bulk = models.BooleanField(_("bulk"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A failed attempt is retried at this time (backoff); None: send as soon as possible.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # When the sweep last queued it: a message may still be waiting in a long queue.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Retries go on until then (24 hours after recording, or after staff "send again").
    retry_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    city = models.ForeignKey(
        "cities.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mail")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next_idx"),
        ]

    def __str__(self) -> str:
        return self.subject


class RateLimitCount(models.Model):
    """Attempts per key and window, counted here only while the cache (Redis) is unreachable.

    One row per (action, who, window); `expires_at` lets a periodic purge drop old windows.
    """

    key = models.CharField(max_length=200, unique=True)
    hits = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("rate-limit count")
        verbose_name_plural = _("rate-limit counts")

    def __str__(self) -> str:
        return self.key
