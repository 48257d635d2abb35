"""Follows, events, per-person deliveries, digests, unsubscribe and data rights (issue 16).

Services call ``emit`` inside their own transaction; ``follow``/``auto_follow`` when a
person signs, votes, files or registers. The registry (``opencity.notifications.registry``)
is filled from each service's ``AppConfig.ready()``.
"""

from __future__ import annotations

from typing import Any


def emit(
    kind: str,
    obj: Any,
    *,
    key: str,
    city: Any = None,
    data: dict | None = None,
    told: list[int] | None = None,
) -> Any:
    from opencity.notifications.services import emit as _emit

    return _emit(kind, obj, key=key, city=city, data=data, told=told)


def follow(user: Any, obj: Any) -> bool:
    from opencity.notifications.services import follow as _follow

    return _follow(user, obj)


def auto_follow_later(user: Any, obj: Any) -> None:
    """auto_follow after commit, by a task: for paths that must stay one statement (voting).
    Losing it to a broker outage loses a convenience, never a vote."""
    from opencity.queue import enqueue_on_commit

    label = f"{obj._meta.app_label}.{obj._meta.model_name}"
    enqueue_on_commit("opencity.notifications.tasks.auto_follow", user.pk, label, obj.pk)


def auto_follow(user: Any, obj: Any) -> bool:
    from opencity.notifications.services import auto_follow as _auto_follow

    return _auto_follow(user, obj)


def not_immediate(user_ids: list[int], kind: str) -> set[int]:
    """Of these people, those who hear of `kind` in a digest or never, not at once."""
    from opencity.notifications.services import not_immediate as _not_immediate

    return _not_immediate(user_ids, kind)


def auto_follows(user: Any) -> bool:
    """Whether the person follows what they sign, vote for, file or register for."""
    from opencity.notifications.services import auto_follows as _auto_follows

    return _auto_follows(user)
