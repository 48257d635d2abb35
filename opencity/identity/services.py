"""Identity keys: confirming a person's key, wording the "already counted" refusal, and the
registry through which services count acts the core does not see (paper lines).

The core knows no service: services register their contributions in AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from opencity.core import Refused
from opencity.core.services import audit
from opencity.identity.keys import identity_key
from opencity.identity.models import CountedAct, PersonKey

ONCE_PER_PERSON = "countedact_once_per_person"

# (user_id, key) -> acts of the account counted before it had a key, now claimed.
_backfills: list[Callable[[int, str], int]] = []
# scope -> (subject ids -> {subject id: acts counted outside the online tables}); the scope
# "programme_ballots" answers each programme's paper ballots as lists of project ids.
_offline_counters: dict[str, Callable[[list[int]], dict[int, Any]]] = {}


def register_backfill(function: Callable[[int, str], int]) -> None:
    if function not in _backfills:
        _backfills.append(function)


def register_offline_counter(scope: str, function: Callable[[list[int]], dict[int, Any]]) -> None:
    _offline_counters[scope] = function


def offline_counts(scope: str, subject_ids: Iterable[int]) -> dict[int, Any]:
    """Acts counted on paper (or any other registered channel) per subject; {} if none."""
    counter = _offline_counters.get(scope)
    ids = list(subject_ids)
    return counter(ids) if counter and ids else {}


def is_counted_twice(exc: BaseException) -> bool:
    """Whether an IntegrityError is the once-per-person constraint (any database)."""
    cause = getattr(exc, "__cause__", None)
    diag = getattr(cause, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name == ONCE_PER_PERSON
    text = str(exc)
    return ONCE_PER_PERSON in text or "identity_countedact.scope" in text


def counted_act(scope: str, subject_id: int, key: str) -> CountedAct | None:
    return CountedAct.objects.filter(scope=scope, subject_id=subject_id, key=key).first()


def counted_on_paper(*, scope: str, subject_id: int, user_id: int) -> bool:
    """Whether the account's person is counted for the subject by a paper line."""
    return CountedAct.objects.filter(
        scope=scope,
        subject_id=subject_id,
        channel=CountedAct.Channel.PAPER,
        key__in=PersonKey.objects.filter(user_id=user_id).values("key"),
    ).exists()


def _when(act: CountedAct) -> str:
    return date_format(timezone.localtime(act.created_at), "j E Y")


def already_counted(
    *, scope: str, subject_id: int, key: str | None = None, user_id: int | None = None
) -> Refused:
    """The refusal for a person already counted for this subject, saying only the channel
    and the day (nothing about who entered it or where). Code "counted"."""
    if key is None and user_id is not None:
        key = PersonKey.objects.filter(user_id=user_id).values_list("key", flat=True).first()
    act = counted_act(scope, subject_id, key) if key else None
    if act is None:
        return Refused(_("You are already counted here."), code="counted")
    if act.channel == CountedAct.Channel.PAPER:
        message = _("You are already counted here: on paper, on %(date)s.")
    else:
        message = _("You are already counted here: online, on %(date)s.")
    return Refused(message % {"date": _when(act)}, code="counted")


def person_already_counted(act: CountedAct) -> Refused:
    """The clerk's version: about the person on the sheet, not about the clerk."""
    if act.channel == CountedAct.Channel.PAPER:
        message = _("Already counted: on paper, on %(date)s.")
    else:
        message = _("Already counted: online, on %(date)s.")
    return Refused(message % {"date": _when(act)}, code="counted", field="id_number")


def person_key_confirm(
    *, user, kind: str, number: str, source: str, actor=None, city=None
) -> PersonKey:
    """Give `user` the identity key of (kind, number). Atomic and idempotent for the same
    key; Refused (code "key_taken") when another account holds it, ("key_differs") when the
    account already has another one. Acts the account made before it had a key are then
    claimed for it (registered backfills); a clash there means the person was counted on
    paper and online before the key existed, and is recorded in the audit entry."""
    key = identity_key(kind, number)
    with transaction.atomic():
        existing = PersonKey.objects.filter(user=user).first()
        if existing is not None:
            if existing.key != key:
                raise Refused(
                    _("This account is already tied to another identity document."),
                    code="key_differs",
                )
            return existing
        try:
            with transaction.atomic():
                person = PersonKey.objects.create(user=user, key=key, source=source)
        except IntegrityError:
            raise Refused(
                _("This identity is already tied to another account."), code="key_taken"
            ) from None
        clashes = sum(function(user.pk, key) for function in _backfills)
        audit(
            obj=person,
            action="identity.personkey.confirmed",
            actor=actor,
            city=city,
            reason=source,
            data={"clashes": clashes} if clashes else None,
        )
    return person


# --- the trigger that claims an online act ----------------------------------------------------


def _names(spec: dict) -> tuple[str, str]:
    return spec["name"], spec["table"]


def claim_trigger_sql(spec: dict, vendor: str) -> list[str]:
    """A row trigger on a service's table of online acts: each inserted row of an account
    that has a key adds its CountedAct. A person already counted makes the INSERT fail with
    the once-per-person constraint, so the act and its claim commit together or not at all.

    spec = {"name", "table", "scope": "'petition'", "subject": "petition_id",
            "user": "user_id", "at": "created_at"}
    """
    name, table = _names(spec)
    subject, user, at, scope = spec["subject"], spec["user"], spec["at"], spec["scope"]
    insert = f"""
        INSERT INTO identity_countedact (scope, subject_id, key, channel, user_id, created_at)
        SELECT {scope}, NEW.{subject}, k.key, 'online', NEW.{user}, NEW.{at}
        FROM identity_personkey k WHERE k.user_id = NEW.{user}"""  # noqa: S608 - constants
    if vendor == "postgresql":
        return [
            f"""
            CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
              {insert};
              RETURN NULL;
            END
            $$ LANGUAGE plpgsql
            """,
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"""
            CREATE TRIGGER {name} AFTER INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION {name}()
            """,
        ]
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN {insert}; END",
    ]


def install_claim_trigger(spec: dict):
    def forward(apps, schema_editor) -> None:
        for statement in claim_trigger_sql(spec, schema_editor.connection.vendor):
            schema_editor.execute(statement)

    return forward


def uninstall_claim_trigger(spec: dict):
    def backward(apps, schema_editor) -> None:
        name, table = _names(spec)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")

    return backward
