"""The person's data rights: a full export (prepared by a task, linked for 7 days) and the
deletion of the account (personal data erased, acts that count kept)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from opencity.accounts.models import User
from opencity.cities.models import StaffRole
from opencity.core.models import OutboundEmail
from opencity.core.services import audit, queue_email
from opencity.identity.models import PersonKey
from opencity.notifications import registry
from opencity.notifications.models import (
    DataExport,
    Delivery,
    Follow,
    NotificationSettings,
    Preference,
)
from opencity.queue import enqueue_on_commit

EXPORT_SALT = "opencity.notifications.export"
EXPORT_VALID = timedelta(days=7)


def request_export(user: User) -> DataExport:
    """Record the request; a task prepares it after commit and mails the link."""
    with transaction.atomic():
        export = DataExport.objects.create(user=user)
        enqueue_on_commit("opencity.notifications.tasks.prepare_export", export.pk)
    return export


def _jsonable(value: object) -> object:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _any_of(field: str, addresses: set[str]) -> Q:
    """`field` equals one of `addresses`, in any letter case (an empty set matches nothing)."""
    matches = Q(pk__in=[])
    for address in addresses:
        matches |= Q(**{f"{field}__iexact": address})
    return matches


def _addresses(user: User) -> set[str]:
    """The person's e-mail addresses, lower-cased: the account's and every one they
    confirmed, less any that is another account's (mail to it is that person's)."""
    from allauth.account.models import EmailAddress

    confirmed = EmailAddress.objects.filter(user=user, verified=True).values_list("email")
    addresses = {user.email.lower(), *(address.lower() for (address,) in confirmed)}
    taken = User.objects.exclude(pk=user.pk).filter(_any_of("email", addresses))
    return addresses - {e.lower() for e in taken.values_list("email", flat=True)} - {""}


def _mail_to(addresses: set[str]) -> QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(_any_of("to", addresses))


def _identity_key(user: User) -> dict | None:
    """Whether a key is on file and since when; never the key itself (it identifies the
    person across every channel, and an export travels by e-mail link)."""
    person_key = PersonKey.objects.filter(user=user).first()
    if person_key is None:
        return None
    since = timezone.localtime(person_key.created_at)
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        statement = gettext("An identity key is on file since %(date)s.") % {
            "date": date_format(since, "j E Y")
        }
    return {
        "on_file_since": person_key.created_at,
        "confirmed_by": person_key.source,
        "statement": statement,
    }


def collect(user: User) -> dict:
    """Everything held about `user`, and nothing of anyone else."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    payload: dict = {
        "account": {
            "email": user.email,
            "full_name": user.full_name,
            "preferred_language": user.preferred_language,
            "home_city": user.home_city.full_name if user.home_city else None,
            "date_of_birth": user.date_of_birth,
            "identity_verified_at": user.identity_verified_at,
            "identity_provider": user.identity_provider,
            "verified_birth_date": user.verified_birth_date,
            "verified_address": user.verified_address,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "email_addresses": list(
                EmailAddress.objects.filter(user=user).values("email", "verified", "primary")
            ),
            "identity_links": list(
                SocialAccount.objects.filter(user=user).values(
                    "provider", "uid", "date_joined", "extra_data"
                )
            ),
            "identity_key": _identity_key(user),
        },
        # What the portal mailed the person: when and about what (the bodies carry links
        # that act for them, such as one-click unsubscribe, and stay out of the export).
        "emails": list(
            _mail_to(_addresses(user))
            .order_by("created_at", "pk")
            .values("created_at", "sent_at", "subject", "status")
        ),
        "notifications": {
            "follows": [
                {
                    "type": f.content_type.app_label + "." + f.content_type.model,
                    "id": f.object_id,
                    "since": f.created_at,
                }
                for f in Follow.objects.filter(user=user).select_related("content_type")
            ],
            "auto_follow": NotificationSettings.objects.filter(user=user)
            .values_list("auto_follow", flat=True)
            .first(),
            "paces": dict(Preference.objects.filter(user=user).values_list("kind", "pace")),
            "deliveries": list(
                Delivery.objects.filter(user=user).values(
                    "event__kind", "event__title", "pace", "status", "created_at", "sent_at"
                )
            ),
        },
    }
    for contribution in registry.data_contributions():
        payload[contribution.app] = contribution.export(user)
    return _jsonable(payload)


def prepare_export(export_id: int) -> bool:
    """Fill the export and mail its link, once (claimed by a conditional UPDATE)."""
    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or export.ready_at is not None:
        return False
    payload = collect(export.user)
    with transaction.atomic():
        claimed = DataExport.objects.filter(pk=export_id, ready_at__isnull=True).update(
            payload=payload, ready_at=timezone.now()
        )
        if claimed != 1:
            return False
        user = export.user
        queue_email(
            key=f"data-export:{export_id}",
            to=user.email,
            template="data_export_ready",
            context={
                "recipient": user,
                "url": settings.SITE_URL + reverse("notifications:export", args=[token(export)]),
                "valid_until": timezone.now() + EXPORT_VALID,
            },
            language=user.preferred_language,
        )
    return True


def token(export: DataExport) -> str:
    return signing.dumps(export.pk, salt=EXPORT_SALT)


def export_for(token_value: str, user: User) -> DataExport | None:
    """The ready export a link names, if the link is genuine, not older than 7 days and the
    export belongs to `user`; else None."""
    try:
        export_id = signing.loads(token_value, salt=EXPORT_SALT, max_age=EXPORT_VALID)
    except signing.BadSignature:
        return None
    return DataExport.objects.filter(
        pk=export_id, user=user, ready_at__isnull=False, payload__isnull=False
    ).first()


def delete_account(user: User, *, remove_public_name: bool = False) -> None:
    """Erase the person, keep their acts: every service anonymises what it holds (signatures,
    votes, registrations stay counted), then the account loses everything personal (its tie
    to an identity key, the mail addressed to it) and can no longer sign in. Irreversible;
    audited without personal data."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    with transaction.atomic():
        addresses = _addresses(user)
        for contribution in registry.data_contributions():
            if contribution.erase is not None:
                contribution.erase(user, remove_public_name)
        Follow.objects.filter(user=user).delete()
        Preference.objects.filter(user=user).delete()
        NotificationSettings.objects.filter(user=user).delete()
        Delivery.objects.filter(user=user).delete()
        DataExport.objects.filter(user=user).delete()
        EmailAddress.objects.filter(user=user).delete()
        SocialAccount.objects.filter(user=user).delete()  # with the provider's claims and tokens
        Authenticator.objects.filter(user=user).delete()  # second-factor secrets
        StaffRole.objects.filter(user=user).delete()
        # The counted acts keep their key: counts stay exact, and the same person coming
        # back with a new account is still counted once. The tie to this account goes.
        PersonKey.objects.filter(user=user).delete()
        _erase_mail(addresses)
        User.objects.filter(pk=user.pk).update(
            email=f"deleted-{user.pk}@deleted.invalid",
            full_name="—",
            password=make_password(None),
            date_of_birth=None,
            home_city=None,
            identity_verified_at=None,
            identity_provider="",
            verified_birth_date=None,
            verified_address=None,
            is_active=False,
            is_staff=False,
            is_superuser=False,
            last_login=None,
        )
        user.groups.clear()
        user.user_permissions.clear()
        audit(obj=user, action="accounts.user.deleted", actor=None, data={})
    user.refresh_from_db()


def _erase_mail(addresses: set[str]) -> None:
    """Mail not yet sent to the person is never sent; mail already sent (or being sent)
    keeps its subject, status and dates for the outbox's record, without the address, the
    body or the headers (which carry the person's unsubscribe token)."""
    mail = _mail_to(addresses)
    Status = OutboundEmail.Status
    mail.filter(status__in=[Status.PENDING, Status.FAILED]).delete()
    mail.update(to="", body_text="", body_html="", headers={})
