"""Factories for petitions: rules, petitions in any status, signatures in bulk."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from petitions.models import Petition, PetitionRules, Signature
from tests.factories import make_user

_seq = itertools.count(1)
Status = Petition.Status


def make_rules(city, **fields) -> PetitionRules:
    fields.setdefault("threshold", 3)
    fields.setdefault("collection_days", 30)
    rules, _ = PetitionRules.objects.update_or_create(city=city, defaults=fields)
    return rules


def make_petition(city, author=None, status: str = Status.COLLECTING, **fields) -> Petition:
    """A petition already in `status`, with the dates and copied rules that status implies."""
    n = next(_seq)
    author = author or make_user()
    now = timezone.now()
    values = {
        "city": city,
        "author": author,
        "author_name": author.full_name,
        "title": f"Петиція номер {n}: облаштувати велодоріжку",
        "text": "Просимо міську раду облаштувати безпечну велодоріжку вздовж проспекту. " * 2,
        "status": status,
    }
    if status != Status.DRAFT:
        values.update(submitted_at=now - timedelta(days=3), moderation_due=now.date())
    if status in Petition.PUBLIC_STATUSES:
        values.update(
            threshold=3,
            collection_days=30,
            respond_working_days=10,
            published_at=now - timedelta(days=2),
            collection_ends_at=now + timedelta(days=28),
        )
    if status in (Status.REACHED, Status.ANSWERED):
        values.update(reached_at=now - timedelta(days=1), response_due=now.date() + timedelta(10))
    if status == Status.ANSWERED:
        values.update(
            response_decision=Petition.Decision.SUPPORTED,
            response_text="Рада підтримала петицію.",
            answered_at=now,
            answered_on_time=True,
        )
    if status == Status.REJECTED:
        values.update(rejection_ground=Petition.RejectionGround.PERSONAL)
    values.update(fields)
    return Petition.objects.create(**values)


def sign_many(petition: Petition, count: int) -> list:
    users = [make_user() for _ in range(count)]
    Signature.objects.bulk_create(
        [Signature(petition=petition, user=u, public_name=u.full_name) for u in users]
    )
    return users
