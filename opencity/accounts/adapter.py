import logging
import uuid
from datetime import date

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import get_language

from opencity.core import Refused
from opencity.core.services import outbound_email, queue_rendered_email
from opencity.identity.keys import DocumentType
from opencity.identity.services import person_key_confirm
from opencity.proxies import client_address

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """allauth, with its e-mails (verification, password reset) sent through our outbox."""

    def save_user(self, request, user, form, commit=True):
        # The full name is required by the database, so it is set before the first save.
        user.full_name = form.cleaned_data.get("full_name", "")
        user.preferred_language = get_language() or "uk"
        return super().save_user(request, user, form, commit)

    def get_client_ip(self, request) -> str:
        # allauth's rate limits key on this: the visitor, not the proxy in front of us.
        return client_address(request)

    def send_mail(self, template_prefix, email, context):
        message = self.render_mail(template_prefix, email, context)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        # Each allauth e-mail is its own message (a new link every time): a fresh key.
        queue_rendered_email(
            outbound_email(
                key=f"account:{template_prefix.rsplit('/', 1)[-1]}:{uuid.uuid4().hex}",
                to=email,
                subject=message.subject,
                text=message.body,
                html=html,
                language=get_language(),
            )
        )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Logins through a city's OpenID Connect identity provider mark the person identified."""

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        name = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
        user.full_name = (data.get("name") or name or user.email or "").strip()
        return user

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        store_identity_claims(user, sociallogin.account.provider, sociallogin.account.extra_data)
        return user

    def pre_social_login(self, request, sociallogin):
        super().pre_social_login(request, sociallogin)
        if sociallogin.is_existing:
            # A returning person: refresh what the provider vouches for (a move, a correction).
            store_identity_claims(
                sociallogin.user, sociallogin.account.provider, sociallogin.account.extra_data
            )
            return
        # A first login through the provider: link it to the account it belongs to, after the
        # person confirms (opencity/accounts/oidc.py), rather than open a second account.
        from opencity.accounts import oidc

        user = request.user if request.user.is_authenticated else None
        if sociallogin.state.get("process") != "connect" or user is None:
            user = oidc.verified_email_owner(sociallogin)
        if user is not None:
            oidc.stash_pending_link(request, sociallogin, user)
            raise ImmediateHttpResponse(redirect("identity_link"))

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ):
        # A clear reason (expired, meant for another site, unverifiable) instead of allauth's
        # one generic sentence; see templates/socialaccount/authentication_error.html.
        from opencity.accounts import oidc

        super().on_authentication_error(request, provider, error, exception, extra_context)
        if extra_context is not None:
            extra_context["refusal"] = oidc.refusal_message(exception)
            extra_context["provider_name"] = getattr(provider, "name", "")


def store_identity_claims(user, provider: str, claims: dict) -> None:
    """Mark `user` identified by `provider` and keep its `birthdate` and `address` claims
    (OpenID Connect standard claims; a malformed birthdate is ignored, never guessed)."""
    claims = claims.get("userinfo", claims) if isinstance(claims, dict) else {}
    birth = None
    try:
        birth = date.fromisoformat(str(claims.get("birthdate", ""))[:10])
    except ValueError:
        birth = None
    address = claims.get("address")
    user.identity_verified_at = timezone.now()
    user.identity_provider = provider
    user.verified_birth_date = birth
    user.verified_address = address if isinstance(address, dict) else None
    user.save(
        update_fields=[
            "identity_verified_at",
            "identity_provider",
            "verified_birth_date",
            "verified_address",
        ]
    )
    store_identity_key(user, provider, claims)


# Claims that carry the tax number (РНОКПП): BankID NBU's `drfocode`, ID.gov.ua's `drfo`.
TAX_NUMBER_CLAIMS = ("drfocode", "drfo", "rnokpp", "tax_id")


def store_identity_key(user, provider: str, claims: dict) -> None:
    """Give the account the identity key of the provider's tax-number claim (only the keyed
    hash is stored, see opencity.identity). A clash (the number is another account's, or the
    account has another one) never stops the login: it is logged for staff."""
    number = next((str(claims[name]) for name in TAX_NUMBER_CLAIMS if claims.get(name)), "")
    if not number:
        return
    try:
        person_key_confirm(user=user, kind=DocumentType.RNOKPP, number=number, source="provider")
    except Refused as refusal:
        logger.warning("identity key of user %s not stored: %s", user.pk, refusal.code)
