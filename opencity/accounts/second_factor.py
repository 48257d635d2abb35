"""A second factor (allauth.mfa: TOTP, WebAuthn, recovery codes) for staff.

City staff, the secretariat, directors and every admin user must have signed in with a
second factor in this session before they reach the admin or the directors' reports
(settings.MFA_REQUIRED_PATHS). Without one set up they are sent to set it up; with one set
up but not used in this session (signed in before it existed), they confirm it first. A
citizen never needs one.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from opencity.cities import access

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def must_use_second_factor(user) -> bool:
    """Staff of any kind: admin users, the secretariat, directors, city staff."""
    if not user.is_authenticated or not user.is_active:
        return False
    return (
        user.is_staff
        or access.is_association_staff(user)
        or access.is_director(user)
        or access.is_city_staff(user)
    )


def used_second_factor(request) -> bool:
    return any(
        record.get("method") == "mfa"
        for record in get_authentication_records(request, request.user)
    )


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


class RequireSecondFactorMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            self._guarded(request.path_info)
            and must_use_second_factor(request.user)
            and not used_second_factor(request)
        ):
            return self._send_to_second_factor(request)
        return self.get_response(request)

    @staticmethod
    def _guarded(path: str) -> bool:
        if any(path.startswith(exempt) for exempt in settings.MFA_EXEMPT_PATHS):
            return False
        return any(path.startswith(prefix) for prefix in settings.MFA_REQUIRED_PATHS)

    @staticmethod
    def _send_to_second_factor(request):
        next_query = urlencode({"next": request.get_full_path()})
        if has_second_factor(request.user):
            return redirect(f"{reverse('mfa_reauthenticate')}?{next_query}")
        messages.info(
            request,
            _(
                "Staff pages need a second factor. Set up an authenticator app or a "
                "security key, then open the page again."
            ),
        )
        return redirect(reverse("mfa_index"))
