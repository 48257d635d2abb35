"""Which audited decisions are public acts of the ledger.

Services register their public decisions in their AppConfig.ready(), so the ledger (a core
app) never imports a service. Signatures and votes need no registration: each service's own
migration installs a trigger that writes a `ledger_pending` row with the act's name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    action: str
    # Copy the audit entry's reason into the leaf: only where the reason is already public
    # (a rejection ground shown on the petition page), never free text that may name people.
    with_reason: bool = False
    # Keys of the audit entry's `data` copied into the leaf (e.g. a tally's content hash).
    data_keys: tuple[str, ...] = ()


_decisions: dict[str, Decision] = {}


def register_decision(action: str, *, with_reason: bool = False, data_keys=()) -> None:
    _decisions[action] = Decision(action, with_reason, tuple(data_keys))


def decision(action: str) -> Decision | None:
    return _decisions.get(action)
