"""Moderation of budget projects is public in the ledger, as for petitions and problem
reports: a project sent back for revision and a photo hidden or shown again become leaves
after the sequencer runs, naming the project (and the photo), never the moderator, the
author or the free-text comment or reason."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from initiatives import services
from opencity.ledger import services as ledger
from opencity.ledger.models import Entry
from tests.initiatives.factories import make_category, make_initiative, make_programme
from tests.photo_files import image_bytes, media_dirs, upload

__all__ = ["media_dirs"]

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_dirs")]


def leaves_since(start: int) -> list[dict]:
    ledger.sequence_all()
    return [
        json.loads(bytes(data))
        for data in Entry.objects.filter(index__gte=start)
        .order_by("index")
        .values_list("data", flat=True)
    ]


def test_revision_requests_and_photo_moderation_become_leaves_without_personal_data(
    client, city_a, citizen, moderator_a, django_capture_on_commit_callbacks
):
    programme = make_programme(city_a, stage="review")
    initiative = make_initiative(
        programme, make_category(programme), author=citizen, status="submitted"
    )
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = services.photos_add(
            initiative=initiative, uploads=[upload("a.jpg", image_bytes())]
        )
    ledger.sequence_all()  # whatever the fixtures logged
    start = Entry.objects.count()

    client.force_login(moderator_a)
    review = reverse("admin:initiatives_initiative_review", args=[initiative.pk])
    sent_back = client.post(review, {"decision": "revise", "comment": "Уточніть кошторис, Іване"})
    assert sent_back.status_code == 302
    hide = reverse("admin:initiatives_initiative_photo_hide", args=[initiative.pk, photo.pk])
    assert client.post(hide, {"reason": "На фото обличчя сусідки"}).status_code == 302
    assert client.post(hide, {"reason": "Обличчя розмите автором"}).status_code == 302

    logged = leaves_since(start)
    subject = f"initiatives.initiative/{initiative.pk}"
    assert [(leaf["act"], leaf["subject"]) for leaf in logged] == [
        ("initiatives.initiative.revision_requested", subject),
        ("initiatives.photo.hidden", subject),
        ("initiatives.photo.shown", subject),
    ]
    assert (logged[0]["from"], logged[0]["to"]) == ("submitted", "revision")
    assert logged[1]["photo"] == photo.pk and logged[2]["photo"] == photo.pk
    for leaf in logged:
        assert "reason" not in leaf and "person" not in leaf
    everything = b"".join(bytes(d) for d in Entry.objects.values_list("data", flat=True))
    for private in (citizen.email, moderator_a.email, "Іване", "сусідки", "розмите"):
        assert private.encode() not in everything
    assert not Entry.objects.filter(index__gte=start, person_id__isnull=False).exists()
