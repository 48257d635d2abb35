"""Deployment checks (`manage.py check --deploy`) for the proxy set-up the README describes."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_proxy_settings(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    redirect = getattr(settings, "SECURE_SSL_REDIRECT", False)
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if redirect and not proxy_header:
        warnings.append(
            Warning(
                "SECURE_SSL_REDIRECT is on but the proxy's X-Forwarded-Proto header is not "
                "trusted: behind a TLS proxy every request is redirected again, forever.",
                hint="Behind nginx (see deploy/) set TRUST_X_FORWARDED_PROTO=1; when gunicorn "
                "itself terminates TLS, ignore this warning.",
                id="opencity.W001",
            )
        )
    if proxy_header and not settings.TRUSTED_PROXIES:
        warnings.append(
            Warning(
                "X-Forwarded-Proto is trusted (a proxy is in front) but TRUSTED_PROXIES is "
                "empty: rate limits key every visitor on the proxy's address, so one abuser "
                "locks everyone out.",
                hint="Set TRUSTED_PROXIES to the proxy's address (e.g. 127.0.0.1).",
                id="opencity.W002",
            )
        )
    return warnings
