"""Each simulated citizen arrives from an address of their own.

In production the portal sits behind nginx, which passes the client's address in
`X-Forwarded-For`; the portal trusts that header only from `TRUSTED_PROXIES`
(opencity/proxies.py). Every load-generator client here connects from 127.0.0.1, so
without this the per-address rate limit (issue 18.6) would count a whole surge as one
household and answer 429: the benchmarks would measure the limiter, not the portal.
The benches therefore trust 127.0.0.1 as a proxy and send one address per person.
"""

from __future__ import annotations

ENV = {"TRUSTED_PROXIES": "127.0.0.1/32"}


def address(person: int) -> str:
    """A stable private address for person number `person` (10.0.0.1, 10.0.0.2, ...)."""
    n = person + 1
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
