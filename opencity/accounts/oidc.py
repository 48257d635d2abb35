"""Logging in through the city's OpenID Connect identity provider (issue 16, item 7).

allauth runs the flow (authorisation code with PKCE, the token exchange, the userinfo call);
this module adds what the portal needs on top of it:

- the ID token's signature is always checked against the provider's JWKS (allauth skips the
  check when the token came straight from the token endpoint, which the specification allows;
  we do not: a bad, expired or wrong-audience token is refused, with a message that says so);
- a first login whose verified e-mail belongs to an existing account with a verified e-mail is
  not turned into a second account: the person confirms (with that account's password, or a
  button when already signed in to it) and the identity is linked to the existing account,
  which becomes identified with the claims the provider carries.
"""

from __future__ import annotations

import jwt
from allauth.account.models import EmailAddress
from allauth.account.utils import perform_login
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opencity import ratelimit
from opencity.accounts.forms import IdentityLinkForm
from opencity.accounts.models import User
from opencity.core.services import audit

PENDING_LINK_SESSION_KEY = "opencity_identity_link"


class VerifyingAdapter(OpenIDConnectOAuth2Adapter):
    """allauth's OpenID Connect adapter, with the ID token's signature always verified."""

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    """allauth's callback view with the verifying adapter (same URL and name as allauth's)."""
    try:
        view = OAuth2CallbackView.adapter_view(VerifyingAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


# Why a login through the identity provider was refused, from the ID token check (PyJWT's
# error, which allauth wraps), in words a resident understands.
REFUSALS = (
    (
        jwt.ExpiredSignatureError,
        gettext_lazy(
            "The answer from the identity provider has expired. Please log in through it again."
        ),
    ),
    (
        jwt.InvalidAudienceError,
        gettext_lazy(
            "The identity provider's answer was meant for another site, so it was not accepted."
        ),
    ),
    (
        jwt.InvalidIssuerError,
        gettext_lazy("The answer did not come from the identity provider this portal trusts."),
    ),
    (
        jwt.PyJWTError,
        gettext_lazy(
            "The identity provider's answer could not be verified (its signature or format "
            "is wrong), so it was not accepted."
        ),
    ),
)


def refusal_message(exception: BaseException | None) -> str:
    """The message shown when a login through the identity provider fails."""
    cause = exception
    while cause is not None:
        for error_class, message in REFUSALS:
            if isinstance(cause, error_class):
                return str(message)
        cause = cause.__cause__
    return _(
        "Logging in through the identity provider did not succeed. Please try again, or log "
        "in with your e-mail and password."
    )


# --- linking to an existing account -----------------------------------------------------------


def verified_email_owner(sociallogin: SocialLogin) -> User | None:
    """The active account whose verified e-mail is the one the provider vouches for (its
    `email_verified` claim), or None. Unverified on either side never links: someone could
    have typed another person's address into an account they never confirmed."""
    for address in sociallogin.email_addresses:
        if not address.verified or not address.email:
            continue
        owned = (
            EmailAddress.objects.filter(email__iexact=address.email, verified=True)
            .select_related("user")
            .first()
        )
        if owned is not None and owned.user.is_active:
            return owned.user
    return None


def stash_pending_link(request: HttpRequest, sociallogin: SocialLogin, user: User) -> None:
    request.session[PENDING_LINK_SESSION_KEY] = {
        "login": sociallogin.serialize(),
        "user": user.pk,
    }


def _pending_link(request: HttpRequest) -> tuple[SocialLogin, User] | None:
    pending = request.session.get(PENDING_LINK_SESSION_KEY)
    if not pending:
        return None
    try:
        sociallogin = SocialLogin.deserialize(pending["login"])
    except (KeyError, ValueError):
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None:
        return None
    return sociallogin, user


def identity_link(*, request: HttpRequest, sociallogin: SocialLogin, user: User) -> bool:
    """Link the provider's identity to `user` and mark the account identified with the claims.

    Atomic. Returns False (and links nothing) when that identity is already linked to an
    account, which can happen if the same login is confirmed twice or in two tabs."""
    from opencity.accounts.adapter import store_identity_claims

    account = sociallogin.account
    with transaction.atomic():
        if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exists():
            return False
        sociallogin.connect(request, user)
        store_identity_claims(user, account.provider, account.extra_data)
        audit(
            obj=user,
            action="accounts.identity.linked",
            actor=user,
            data={"provider": account.provider},
        )
    return True


def link_confirm(request: HttpRequest) -> HttpResponse:
    """Confirm linking the identity provider's login to the existing account with the same
    verified e-mail: by that account's password, or by a button when already signed in to it."""
    pending = _pending_link(request)
    if pending is None:
        messages.error(request, _("There is nothing to link. Please log in again."))
        return redirect("account_login")
    sociallogin, user = pending
    signed_in = request.user.is_authenticated and request.user.pk == user.pk
    provider_name = sociallogin.provider.name
    form = IdentityLinkForm(
        request.POST if request.method == "POST" else None,
        user=user,
        needs_password=not signed_in,
    )
    if request.method == "POST":
        if request.POST.get("cancel"):
            request.session.pop(PENDING_LINK_SESSION_KEY, None)
            messages.info(request, _("Nothing was linked."))
            return redirect("account_login")
        if not ratelimit.allow("identity_link", user.pk):
            return ratelimit.too_many(request)
        if form.is_valid():
            request.session.pop(PENDING_LINK_SESSION_KEY, None)
            if not identity_link(request=request, sociallogin=sociallogin, user=user):
                messages.error(request, _("This identity is already linked to an account."))
                return redirect("account_login")
            messages.success(
                request,
                _("Your account is linked to %(provider)s and marked as identified.")
                % {"provider": provider_name},
            )
            next_url = sociallogin.get_redirect_url(request)
            if signed_in:
                return redirect(next_url or "profile")
            return perform_login(
                request,
                user,
                email_verification=socialaccount_settings.EMAIL_VERIFICATION,
                redirect_url=next_url,
            )
    return render(
        request,
        "account/identity_link.html",
        {"form": form, "email": user.email, "provider_name": provider_name},
    )
