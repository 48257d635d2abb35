"""What each service contributes to notifications and to a person's data rights.

The core never imports a service: a service registers, from its ``AppConfig.ready()``,

``register_kind(Kind(key, app, label, sentence, default_pace="immediate"))``
    A kind of event people can hear about ("petitions.milestone"). ``key`` is what
    ``opencity.notifications.emit`` is called with; ``app`` groups kinds on the settings page
    and in digests; ``label`` names the kind on the settings page; ``sentence`` (a lazy
    translation with ``%(name)s`` placeholders filled from the event's data) says what
    happened, in each recipient's language (or ``describe(data) -> str`` when the data
    needs more than formatting, such as a status code shown by its label).

``register_followable(Followable(model, app, visible, city_id))``
    A model people can follow. ``model`` is "app_label.model_name"; ``visible(user) ->
    QuerySet`` the objects that person may see (following anything else answers 404);
    ``city_id(obj)`` the city an object belongs to (digests group by it); ``sync(user, obj,
    following)`` (optional) mirrors follows into a service's own follower list;
    ``followed(user) -> QuerySet`` (optional, with ``sync``) the objects the person follows
    through that list, made by the service itself (filing, "me too"), so the settings page
    lists them too; ``followers(object_id) -> QuerySet`` (optional) the ids of the people on
    that list, who hear of the object's events like the people who follow it here.

``register_data(DataContribution(app, export, erase))``
    ``export(user) -> dict`` everything the service holds about the person (JSON-ready, and
    nothing of anyone else); ``erase(user, remove_public_name)`` removes or anonymises the
    person's data before the account is anonymised, keeping acts that must stay counted
    (signatures, votes, registrations); with ``remove_public_name`` the name stored on
    public lists is removed too.

Registering the same key/model/app twice replaces the earlier entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PACES = ("immediate", "daily", "weekly", "none")


@dataclass(frozen=True)
class Kind:
    key: str
    app: str
    label: Any  # a lazy translation
    sentence: Any  # a lazy translation, formatted with the event's data
    default_pace: str = "immediate"
    # When the data needs more than formatting (a status code to its label): data -> text,
    # called in the recipient's language.
    describe: Callable[[dict], str] | None = None


@dataclass(frozen=True)
class Followable:
    model: str
    app: str
    visible: Callable[[Any], Any]
    city_id: Callable[[Any], int | None]
    # For a service that keeps its own followers (problems/): told of every follow and
    # unfollow made here, as (user, obj, following).
    sync: Callable[[Any, Any, bool], None] | None = None
    # ... and the objects a person follows through the service's own list.
    followed: Callable[[Any], Any] | None = None
    followers: Callable[[int], Any] | None = None


@dataclass(frozen=True)
class DataContribution:
    app: str
    export: Callable[[Any], dict]
    erase: Callable[[Any, bool], None] | None = None


_kinds: dict[str, Kind] = {}
_followables: dict[str, Followable] = {}
_data: dict[str, DataContribution] = {}


def register_kind(kind: Kind) -> None:
    if kind.default_pace not in PACES:
        raise ValueError(f"unknown pace {kind.default_pace!r}")
    _kinds[kind.key] = kind


def register_followable(followable: Followable) -> None:
    _followables[followable.model.lower()] = followable


def register_data(contribution: DataContribution) -> None:
    _data[contribution.app] = contribution


def kinds() -> tuple[Kind, ...]:
    return tuple(_kinds.values())


def kind(key: str) -> Kind | None:
    return _kinds.get(key)


def followables() -> tuple[Followable, ...]:
    return tuple(_followables.values())


def followable(model: str) -> Followable | None:
    return _followables.get(model.lower())


def data_contributions() -> tuple[DataContribution, ...]:
    return tuple(_data.values())
