"""Follows, events and their delivery: immediately, in a daily or weekly digest, or never.

Guarantees: an event with a given key is recorded once (unique key), each event reaches each
person at most once (unique event+person delivery), every mail carries a one-click
unsubscribe link (RFC 8058) for its kind, and digests go out once per person and period at
DIGEST_HOUR Kyiv time whatever the UTC offset.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone, translation

from opencity.accounts.models import User
from opencity.core.services import (
    outbound_email,
    queue_bulk_delivery,
    queue_email,
    queue_outbound,
    render_email_alike,
)
from opencity.notifications import registry
from opencity.notifications.models import (
    Delivery,
    Event,
    Follow,
    NotificationSettings,
    Pace,
    Preference,
)
from opencity.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

DIGEST_HOUR = 8  # Kyiv local time
DIGEST_WEEKDAY = 0  # Monday
UNSUBSCRIBE_SALT = "opencity.notifications.unsubscribe"
MAIL_KIND_PREFIX = "mail:"  # a service's own notice, named by its template
DIGEST_KINDS = {"digest:daily": Pace.DAILY, "digest:weekly": Pace.WEEKLY}


# --- follows ------------------------------------------------------------------------------


def _ct(obj: models.Model) -> ContentType:
    return ContentType.objects.get_for_model(obj, for_concrete_model=False)


def follow(user: User, obj: models.Model) -> bool:
    """Follow `obj`; True if it is new. Idempotent (unique constraint)."""
    _sync(user, obj, True)
    return _insert_follow(user, obj, unless_opted_out=False)


def _sync(user: User, obj: models.Model, following: bool) -> None:
    spec = registry.followable(f"{obj._meta.app_label}.{obj._meta.model_name}")
    if spec is not None and spec.sync is not None:
        spec.sync(user, obj, following)


# One statement, no savepoint: cheap enough for the voting and signing paths.
_FOLLOW_SQL = """
INSERT INTO notifications_follow (user_id, content_type_id, object_id, created_at)
SELECT %(user)s, %(ct)s, %(object)s, %(now)s
WHERE NOT %(check)s OR NOT EXISTS (
    SELECT 1 FROM notifications_notificationsettings n
    WHERE n.user_id = %(user)s AND NOT n.auto_follow)
ON CONFLICT (user_id, content_type_id, object_id) DO NOTHING
RETURNING id
"""


def _insert_follow(user: User, obj: models.Model, *, unless_opted_out: bool) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            _FOLLOW_SQL,
            {
                "user": user.pk,
                "ct": _ct(obj).pk,
                "object": obj.pk,
                "now": connection.ops.adapt_datetimefield_value(timezone.now()),
                "check": unless_opted_out,
            },
        )
        return cursor.fetchone() is not None


def unfollow(user: User, obj: models.Model) -> bool:
    _sync(user, obj, False)
    deleted, _ = Follow.objects.filter(user=user, content_type=_ct(obj), object_id=obj.pk).delete()
    return bool(deleted)


def is_following(user: User, obj: models.Model) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return Follow.objects.filter(user=user, content_type=_ct(obj), object_id=obj.pk).exists()


def following_sql(user_id: int, obj: models.Model) -> tuple[str, list]:
    """is_following() as an SQL expression with its parameters, for a page that reads a
    visitor's state in one statement."""
    return (
        "EXISTS (SELECT 1 FROM notifications_follow WHERE user_id = %s"
        " AND content_type_id = %s AND object_id = %s)",
        [user_id, _ct(obj).pk, obj.pk],
    )


def auto_follows(user: User) -> bool:
    value = (
        NotificationSettings.objects.filter(user=user).values_list("auto_follow", flat=True).first()
    )
    return True if value is None else value


def auto_follow(user: User, obj: models.Model) -> bool:
    """Follow what a person signs, votes for, files or registers for, unless they turned it
    off. One statement; safe inside the caller's transaction."""
    return _insert_follow(user, obj, unless_opted_out=True)


def auto_follow_by_ids(user_id: int, model: str, object_id: int) -> bool:
    app_label, model_name = model.split(".")
    model_class = apps.get_model(app_label, model_name)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return auto_follow(user, model_class(pk=object_id))


def set_auto_follow(user: User, value: bool) -> None:
    NotificationSettings.objects.update_or_create(user=user, defaults={"auto_follow": value})


# --- pace ---------------------------------------------------------------------------------


def paces_for(user: User) -> dict[str, str]:
    """Every registered kind's pace for this person (their choice or the kind's default)."""
    chosen = dict(Preference.objects.filter(user=user).values_list("kind", "pace"))
    return {k.key: chosen.get(k.key, k.default_pace) for k in registry.kinds()}


def not_immediate(user_ids: list[int], kind: str) -> set[int]:
    """Of these people, those who chose to hear of `kind` in a digest or never (a service
    that mails its followers itself leaves them to the digest: see problems/)."""
    spec = registry.kind(kind)
    chosen = dict(
        Preference.objects.filter(user_id__in=user_ids, kind=kind).values_list("user_id", "pace")
    )
    default = spec.default_pace if spec else Pace.IMMEDIATE
    return {pk for pk in user_ids if chosen.get(pk, default) != Pace.IMMEDIATE}


def stopped(user: User, kind: str) -> bool:
    return Preference.objects.filter(user=user, kind=kind, pace=Pace.NONE).exists()


def stopped_mail_kinds(user: User) -> list[str]:
    return list(
        Preference.objects.filter(
            user=user, kind__startswith=MAIL_KIND_PREFIX, pace=Pace.NONE
        ).values_list("kind", flat=True)
    )


def resume(user: User, kinds: list[str]) -> None:
    Preference.objects.filter(user=user, kind__in=kinds, kind__startswith=MAIL_KIND_PREFIX).delete()


def set_pace(user: User, kind: str, pace: str) -> None:
    if pace not in Pace.values or registry.kind(kind) is None:
        raise ValueError(f"unknown kind or pace: {kind!r} {pace!r}")
    Preference.objects.update_or_create(user=user, kind=kind, defaults={"pace": pace})


# --- unsubscribe --------------------------------------------------------------------------


def unsubscribe_token(user: User, kind: str) -> str:
    return signing.dumps({"u": user.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_urls(kind: str) -> Callable[[User], str]:
    """Each person's one-click unsubscribe address for `kind`: the path is reversed once, and
    each person's token put where the placeholder was (the token is the path's last part)."""
    head, _, tail = reverse("notifications:unsubscribe", args=["TOKEN"]).rpartition("TOKEN")
    return lambda user: f"{settings.SITE_URL}{head}{unsubscribe_token(user, kind)}{tail}"


def unsubscribe_url(user: User, kind: str) -> str:
    return unsubscribe_urls(kind)(user)


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058: a mail client may unsubscribe with one POST to the List-Unsubscribe address."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe_headers(user: User, kind: str) -> dict[str, str]:
    return list_unsubscribe_headers(unsubscribe_url(user, kind))


def read_unsubscribe_token(token: str) -> tuple[User, str]:
    """The person and kind a token names; signing.BadSignature for a forged or damaged one."""
    payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    kind = payload.get("k", "")
    known = registry.kind(kind) or kind in DIGEST_KINDS or kind.startswith(MAIL_KIND_PREFIX)
    if not known:
        raise signing.BadSignature("unknown kind")
    user = User.objects.filter(pk=payload.get("u"), is_active=True).first()
    if user is None:
        raise signing.BadSignature("unknown person")
    return user, kind


def unsubscribe(user: User, kind: str) -> list[str]:
    """Stop one kind of mail (or every kind a digest carries). Returns the kinds stopped."""
    if kind.startswith(MAIL_KIND_PREFIX):
        Preference.objects.update_or_create(user=user, kind=kind, defaults={"pace": Pace.NONE})
        return [kind]
    if kind in DIGEST_KINDS:
        pace = DIGEST_KINDS[kind]
        stopped = [k for k, p in paces_for(user).items() if p == pace]
    else:
        stopped = [kind]
    with transaction.atomic():
        for key in stopped:
            set_pace(user, key, Pace.NONE)
        Delivery.objects.filter(
            user=user, status=Delivery.Status.WAITING, event__kind__in=stopped
        ).update(status=Delivery.Status.SKIPPED)
    return stopped


# --- events -------------------------------------------------------------------------------


def emit(
    kind: str,
    obj: models.Model,
    *,
    key: str,
    city: Any = None,
    data: dict | None = None,
    told: list[int] | None = None,
) -> Event | None:
    """Record that `kind` happened to `obj`, once per `key`; followers hear about it after the
    caller's transaction commits. `told`: people the service already mailed about this (the
    author), who get no second mail. Returns None when the key was already recorded."""
    spec = registry.kind(kind)
    if spec is None:
        raise ValueError(f"notification kind {kind!r} is not registered")
    url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    try:
        with transaction.atomic():
            event = Event.objects.create(
                key=key[:200],
                kind=kind,
                app=spec.app,
                content_type=_ct(obj),
                object_id=obj.pk,
                city_id=getattr(city, "pk", city),
                title=str(obj)[:300],
                url=url,
                data=data or {},
                told=[int(pk) for pk in told or [] if pk],
            )
    except IntegrityError:
        return None
    enqueue_on_commit("opencity.notifications.tasks.fan_out", event.pk)
    return event


def _sentence(event: Event) -> str:
    spec = registry.kind(event.kind)
    if spec is None:
        return event.title
    if spec.describe is not None:
        return str(spec.describe(event.data))
    try:
        return str(spec.sentence) % event.data
    except (KeyError, TypeError, ValueError):
        return str(spec.sentence)


#: followers handled by one fan-out task; the next batch is queued when this one commits
FAN_OUT_BATCH = 200


def fan_out(event_id: int, after: int = 0) -> int:
    """Record one delivery per follower (at most once: unique constraint) and mail the ones
    who want it now. Idempotent: a second run records and sends nothing new.

    Followers are taken FAN_OUT_BATCH at a time in primary-key order; each batch queues the
    next after it commits. A viral petition has tens of thousands of followers (every signer
    follows), and one task mailing them all would hold a worker for minutes while the
    petition's count waits behind it; batches let tallies run in between. If the next batch
    is lost (broker outage), `sweep_events` starts the event again and the deliveries already
    recorded are skipped."""
    event = Event.objects.select_related("city").filter(pk=event_id).first()
    if event is None:
        return 0
    spec = registry.kind(event.kind)
    default = spec.default_pace if spec else Pace.IMMEDIATE
    # Those who followed by the time it happened: a petition that reached its threshold
    # tells its signers so far, not each new signer after it (they saw it as they signed).
    following = models.Q(
        follows__content_type=event.content_type_id,
        follows__object_id=event.object_id,
        follows__created_at__lte=event.created_at,
    )
    ct = ContentType.objects.get_for_id(event.content_type_id)
    listed = registry.followable(f"{ct.app_label}.{ct.model}")
    if listed is not None and listed.followers is not None:
        # People on the service's own list of followers (a report's filer, "me too").
        following |= models.Q(pk__in=listed.followers(event.object_id))
    follower_ids = User.objects.filter(following).values("pk")
    batch = list(
        User.objects.filter(pk__in=follower_ids, is_active=True, pk__gt=after)
        .exclude(notification_deliveries__event=event)
        .exclude(pk__in=event.told)
        .order_by("pk")[:FAN_OUT_BATCH]
    )
    chosen = dict(
        Preference.objects.filter(kind=event.kind, user__in=[u.pk for u in batch]).values_list(
            "user_id", "pace"
        )
    )
    now = timezone.now()
    with transaction.atomic():
        deliveries = []
        for user in batch:
            pace = chosen.get(user.pk, default)
            status = {
                Pace.IMMEDIATE: Delivery.Status.SENT,
                Pace.NONE: Delivery.Status.SKIPPED,
            }.get(pace, Delivery.Status.WAITING)
            deliveries.append(
                Delivery(
                    event=event,
                    user=user,
                    pace=pace,
                    status=status,
                    sent_at=now if status == Delivery.Status.SENT else None,
                )
            )
        # A concurrent run may have recorded some of these: theirs stand, and the outbox's
        # once-per-key rule keeps the mail below from going out twice.
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        queued = _mail_event(
            event, [d.user for d in deliveries if d.status == Delivery.Status.SENT]
        )
        queue_bulk_delivery(queued)  # the batch's mails in one task, after commit
        sent = len(queued)
        if len(batch) == FAN_OUT_BATCH:
            enqueue_on_commit("opencity.notifications.tasks.fan_out", event_id, batch[-1].pk)
        else:
            Event.objects.filter(pk=event_id, fanned_out_at__isnull=True).update(
                fanned_out_at=timezone.now()
            )
    return sent


def _mail_event(event: Event, users: list[User]) -> list[int]:
    """Record the event's notice for these people in the outbox, in one statement; returns
    the rows recorded now. The notice is rendered once per language: people's mails differ
    only in the unsubscribe link."""
    settings_url = settings.SITE_URL + reverse("notifications:settings")
    url = settings.SITE_URL + event.url if event.url else settings.SITE_URL
    rendered: dict[str, Callable[..., tuple[str, str, str]]] = {}
    unsubscribe_url_of = unsubscribe_urls(event.kind)
    emails = []
    for user in users:
        language = user.preferred_language
        if language not in rendered:
            with translation.override(language):
                sentence = _sentence(event)
            # The greeting only asks whether there is a recipient: the notice names no one,
            # so one rendering serves everyone who reads this language.
            context = {"recipient": True, "event": event, "sentence": sentence, "url": url,
                       "settings_url": settings_url}  # fmt: skip
            rendered[language] = render_email_alike(
                "notification", context, language, blanks=["unsubscribe_url"]
            )
        unsubscribe = unsubscribe_url_of(user)
        subject, text, html = rendered[language](unsubscribe_url=unsubscribe)
        emails.append(
            outbound_email(
                key=f"notification:{event.pk}:u{user.pk}",
                to=user.email,
                subject=subject,
                text=text,
                html=html,
                language=language,
                city=event.city_id,
                headers=list_unsubscribe_headers(unsubscribe),
                bulk=True,
            )
        )
    return [email.pk for email in queue_outbound(emails)]


def events_not_fanned_out(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Event.objects.filter(
            fanned_out_at__isnull=True, created_at__lt=now - timedelta(minutes=2)
        ).values_list("pk", flat=True)[:500]
    )


# --- digests ------------------------------------------------------------------------------


def digests_due(now: datetime) -> list[tuple[str, str]]:
    """The digests whose time has come at `now`: (pace, period label). A digest is due from
    DIGEST_HOUR Kyiv time on its day; the period label makes it once per period."""
    local = timezone.localtime(now)  # TIME_ZONE is Europe/Kyiv
    if local.hour < DIGEST_HOUR:
        return []
    due = [(Pace.DAILY, local.date().isoformat())]
    if local.weekday() == DIGEST_WEEKDAY:
        year, week, _ = local.isocalendar()
        due.append((Pace.WEEKLY, f"{year}-W{week:02d}"))
    return due


def send_digests(now: datetime | None = None) -> int:
    """Mail each person their waiting deliveries, grouped by city and service, once per
    period: the outbox key names the period, and the deliveries are marked in the same
    transaction as the mail is recorded. Run hourly by beat; idempotent."""
    now = now or timezone.now()
    sent = 0
    for pace, period in digests_due(now):
        user_ids = (
            Delivery.objects.filter(pace=pace, status=Delivery.Status.WAITING)
            .values_list("user_id", flat=True)
            .distinct()
        )
        for user in User.objects.filter(pk__in=list(user_ids), is_active=True).order_by("pk"):
            if _send_digest(user, pace, period, now):
                sent += 1
    return sent


def _send_digest(user: User, pace: str, period: str, now: datetime) -> bool:
    with transaction.atomic():
        deliveries = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(user=user, pace=pace, status=Delivery.Status.WAITING)
            .select_related("event", "event__city")
            .order_by("event__created_at", "pk")
        )
        if not deliveries:
            return False
        kind = f"digest:{pace}"
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        with translation.override(user.preferred_language):
            labels = {}
            for delivery in deliveries:
                event = delivery.event
                city = event.city.full_name if event.city else ""
                if event.app not in labels:
                    labels[event.app] = str(apps.get_app_config(event.app).verbose_name)
                groups[(city, labels[event.app])].append(
                    {
                        "title": event.title,
                        "sentence": _sentence(event),
                        "url": settings.SITE_URL + event.url if event.url else "",
                    }
                )
        email = queue_email(
            key=f"digest:{pace}:{period}:u{user.pk}",
            to=user.email,
            template=f"digest_{pace}",
            context={
                "recipient": user,
                "groups": [
                    {"city": city, "service": service, "items": items}
                    for (city, service), items in sorted(groups.items())
                ],
                "unsubscribe_url": unsubscribe_url(user, kind),
                "settings_url": settings.SITE_URL + reverse("notifications:settings"),
            },
            language=user.preferred_language,
            headers=unsubscribe_headers(user, kind),
            bulk=True,
        )
        if email is None:
            return False  # this period's digest went out already; these wait for the next
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            status=Delivery.Status.SENT, sent_at=now
        )
    return True
