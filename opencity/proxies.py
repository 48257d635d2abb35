"""The client's address behind reverse proxies, believed only from the proxies we run.

`X-Forwarded-For` is written by whoever sends the request, so it is read only when the
request arrives from an address in `settings.TRUSTED_PROXIES`; the header is then walked from
the right (the entry our own proxy added) past every trusted hop, and the first address that
is not a trusted proxy is the client. A header sent straight to the application, or
prepended by a client in front of our proxy, changes nothing.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> str:
    """The address rate limits and logs key on (REMOTE_ADDR unless a trusted proxy says)."""
    address = request.META.get("REMOTE_ADDR", "") or "unknown"
    if not settings.TRUSTED_PROXIES or not _is_trusted(address):
        return address
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A malformed entry left of our trusted hops is the client's own claim: stop there.
            return address
        if not _is_trusted(hop):
            return hop
        address = hop
    return address
