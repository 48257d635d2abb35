"""`transition()`: the one way a service changes an object's status.

It checks that the change is allowed from the status the row has now, claims the row with a
conditional UPDATE (`filter(pk=…, status=old).update(status=new, …)`) so that of two clerks
acting at once exactly one wins and the other gets a `Refused` (code "status"), and writes
the audit entry in the same transaction. A service that keeps something derived from the
status (cached pages, search entries) registers a listener with `on_transition()` once, in
its AppConfig.ready(), instead of wrapping every call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from opencity.core.models import AuditEntry
from opencity.core.refusals import Refused
from opencity.core.services import audit

if TYPE_CHECKING:
    from opencity.accounts.models import User


#: model → listeners called as listener(obj, audit_entry) after each of its transitions
_listeners: dict[type[models.Model], list[Callable[[Any, AuditEntry], None]]] = defaultdict(list)


def on_transition(model: type[models.Model], listener: Callable[[Any, AuditEntry], None]) -> None:
    """Call `listener(obj, entry)` after every successful `transition()` of `model`.

    It runs inside the transaction, after the audit entry; anything that must wait for the
    commit (cache invalidation, e-mail) is queued on commit by the listener itself."""
    if listener not in _listeners[model]:
        _listeners[model].append(listener)


def transition(
    obj: models.Model,
    *,
    to: str,
    allowed_from: Iterable[str],
    action: str,
    actor: User | None = None,
    city: models.Model | int | None = None,
    reason: str = "",
    data: dict | None = None,
    refused: str | Promise | None = None,
    field: str = "status",
    **changes: Any,
) -> AuditEntry:
    """Move `obj` from one of `allowed_from` to `to`, setting `changes` with it; audit it.

    Atomic (joins the caller's transaction) and exactly once: the UPDATE only matches the
    row in the status just read, so a concurrent or repeated call changes nothing and raises
    `Refused(refused or a generic message, code="status")`. `auto_now` fields are set too.
    On success `obj` carries the new values and the audit entry (action `app.object.verb`,
    from and to states) is returned. Raises `DoesNotExist` if the row is gone.
    """
    model = type(obj)
    manager = model._default_manager
    allowed = {str(state) for state in allowed_from}
    with transaction.atomic():
        current = manager.filter(pk=obj.pk).values_list(field, flat=True).first()
        if current is None:
            raise model.DoesNotExist(f"{model.__name__} {obj.pk}")
        if current not in allowed:
            raise _refusal(model, field, current, refused)
        values = {field: to, **changes}
        now = timezone.now()
        for model_field in model._meta.concrete_fields:
            if getattr(model_field, "auto_now", False) and model_field.name not in values:
                values[model_field.name] = now
        if manager.filter(pk=obj.pk, **{field: current}).update(**values) != 1:
            # Another request changed it between our read and our update.
            current = manager.filter(pk=obj.pk).values_list(field, flat=True).first()
            raise _refusal(model, field, current, refused)
        for name, value in values.items():
            setattr(obj, name, value)
        entry = audit(
            obj=obj,
            action=action,
            actor=actor,
            city=city,
            from_state=current,
            to_state=to,
            reason=reason,
            data=data,
        )
        for listener in _listeners.get(model, ()):
            listener(obj, entry)
        return entry


def _refusal(
    model: type[models.Model], field: str, current: str | None, message: str | Promise | None
) -> Refused:
    if message is None:
        label = dict(model._meta.get_field(field).flatchoices).get(current, current)
        message = _("This step is not possible: the status is now “%(status)s”.") % {
            "status": label
        }
    return Refused(message, code="status")
