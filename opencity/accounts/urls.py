"""Account pages the portal adds around allauth's (mounted under /accounts/ before allauth)."""

from allauth.socialaccount import app_settings as socialaccount_settings
from django.urls import path

from opencity.accounts import oidc

_oidc = socialaccount_settings.OPENID_CONNECT_URL_PREFIX
_oidc = f"{_oidc}/" if _oidc else ""

urlpatterns = [
    # Same address and name as allauth's callback, so allauth's redirect_uri reaches this one.
    path(
        f"{_oidc}<str:provider_id>/login/callback/",
        oidc.callback,
        name="openid_connect_callback",
    ),
    path("identity/link/", oidc.link_confirm, name="identity_link"),
]
