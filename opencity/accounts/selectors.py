from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.contrib.auth.models import AnonymousUser

if TYPE_CHECKING:
    from opencity.accounts.models import User


def has_verified_email(user: User | AnonymousUser) -> bool:
    """True if the person confirmed an e-mail address; remembered on the user for the request."""
    if not user or not user.is_authenticated:
        return False
    if not hasattr(user, "_opencity_email_verified"):
        user._opencity_email_verified = EmailAddress.objects.filter(
            user_id=user.pk, verified=True
        ).exists()
    return user._opencity_email_verified


def verified_email_sql(user_id: int) -> tuple[str, list]:
    """has_verified_email() as an SQL expression with its parameter, for a page that reads a
    visitor's state in one statement (remember the answer with `remember_verified_email`)."""
    return (
        "EXISTS (SELECT 1 FROM account_emailaddress WHERE user_id = %s AND verified)",
        [user_id],
    )


def remember_verified_email(user: User, verified: bool) -> None:
    """What verified_email_sql read, kept for the request as has_verified_email keeps it."""
    user._opencity_email_verified = bool(verified)
