"""Identity keys of people and the acts they are counted for, one per person and subject.

`PersonKey` ties an account to the key of the person it belongs to (set when the person is
identified: an identity provider's tax-number claim or a clerk's check). `CountedAct` is the
one place where "this person is counted for this petition (or budget programme)" lives, for
every channel: online acts add their row through a trigger on the service's own table (so
the signing and voting statements stay one statement), paper lines add theirs at entry. The
unique (scope, subject, key) constraint is what makes a person count once, whatever the race.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PersonKey(models.Model):
    class Source(models.TextChoices):
        PROVIDER = "provider", _("identity provider")
        CLERK = "clerk", _("service centre clerk")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="person_key",
    )
    key = models.CharField(_("identity key"), max_length=64, unique=True)
    source = models.CharField(_("confirmed by"), max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(_("confirmed"), auto_now_add=True)

    class Meta:
        verbose_name = _("identity key")
        verbose_name_plural = _("identity keys")
        constraints = [
            models.CheckConstraint(
                condition=Q(key__regex=r"^[0-9a-f]{64}$"), name="personkey_key_hex"
            ),
        ]

    def __str__(self) -> str:
        return str(self.user_id)


class CountedAct(models.Model):
    class Scope(models.TextChoices):
        PETITION = "petition", _("petition")
        PROGRAMME = "programme", _("public budget")

    class Channel(models.TextChoices):
        ONLINE = "online", _("online")
        PAPER = "paper", _("on paper")

    scope = models.CharField(max_length=10, choices=Scope.choices)
    # The petition's or programme's primary key (no foreign key: the core knows no service).
    subject_id = models.BigIntegerField()
    key = models.CharField(max_length=64)
    channel = models.CharField(max_length=6, choices=Channel.choices)
    # Online: the account; paper: the line of the batch that holds the act.
    user_id = models.BigIntegerField(null=True, blank=True)
    line_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("counted act")
        verbose_name_plural = _("counted acts")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "subject_id", "key"], name="countedact_once_per_person"
            ),
            models.CheckConstraint(
                condition=(Q(channel="online") & Q(user_id__isnull=False))
                | (Q(channel="paper") & Q(line_id__isnull=False)),
                name="countedact_source",
            ),
        ]
        indexes = [
            models.Index(fields=["line_id"], name="countedact_by_line"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}/{self.subject_id} {self.channel}"
