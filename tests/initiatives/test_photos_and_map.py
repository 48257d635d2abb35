"""Project photos and the programme's map: the author attaches photos (HEIC too) with the
proposal, nothing the camera recorded is published, staff hide an abusive one, and the
programme page maps its projects with the list as the accessible path."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from initiatives import photos as project_photos
from initiatives import services, tasks
from initiatives.models import Initiative, InitiativePhoto
from opencity.core.models import AuditEntry
from tests.initiatives.factories import make_category, make_initiative, make_programme
from tests.initiatives.test_submission import form_data
from tests.photo_files import GPS_TAG, heic_bytes, image_bytes, media_dirs, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_dirs")]
__all__ = ["media_dirs"]


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="submission")
    make_category(programme, name="Малі проєкти", budget="1000000", max_cost="300000")
    return programme


@pytest.fixture
def category(programme):
    return programme.categories.get()


def _submit(client, programme, category, photos, **fields):
    return client.post(
        reverse("initiatives:submit", args=[programme.slug]),
        {**form_data(category, **fields), "photos": photos},
    )


def test_the_proposal_form_is_multipart_with_a_map_that_needs_no_javascript(
    citizen_client, programme
):
    page = citizen_client.get(reverse("initiatives:submit", args=[programme.slug])).content
    page = page.decode()
    assert 'enctype="multipart/form-data"' in page
    assert 'id="id_photos"' in page and "image/heic" in page
    # The typed coordinates do the work; the map is shown by the script only.
    assert re.search(r'id="project-map" hidden', page)
    assert 'id="id_latitude"' in page and 'id="id_longitude"' in page
    assert "problems/vendor/leaflet/leaflet.js" in page and "initiatives/map.js" in page


def test_photos_with_gps_and_a_heic_are_published_as_jpeg_without_camera_data(
    citizen_client, programme, category, django_capture_on_commit_callbacks
):
    jpeg = upload("IMG_1.jpg", image_bytes(gps=True))
    heic = upload("IMG_2.HEIC", heic_bytes((320, 240), gps=True), "image/heic")
    with django_capture_on_commit_callbacks(execute=True):
        response = _submit(citizen_client, programme, category, [jpeg, heic])
    assert response.status_code == 302
    initiative = Initiative.objects.get()
    photos = list(initiative.photos.all())
    assert len(photos) == 2
    for photo in photos:
        assert photo.is_public, "the task ran on commit (eager in tests)"
        with photo.original.open("rb") as fp:
            assert Image.open(fp).getexif().get(GPS_TAG), "the private original keeps its data"
        assert "originals" in photo.original.path and "media" not in photo.original.path
        assert "IMG_" not in photo.original.name, "the uploader's file name is not kept"
        for field in (photo.image, photo.thumbnail):
            with field.open("rb") as fp:
                data = fp.read()
            public = Image.open(io.BytesIO(data))
            assert public.format == "JPEG" and field.name.endswith(".jpg")
            assert not public.getexif() and b"PhoneMaker" not in data
    heic_photo = photos[1]
    assert (heic_photo.width, heic_photo.height) == (320, 240)

    page = citizen_client.get(initiative.get_absolute_url()).content.decode()
    for photo in photos:
        assert photo.thumbnail.url in page and photo.image.url in page
        assert photo.original.name not in page
    assert "фото 1" in page or "Photo 1 of the place" in page


def test_a_photo_is_not_shown_until_processed_and_processing_is_idempotent(
    citizen, programme, category, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        initiative = services.initiative_submit(
            author=citizen,
            programme=programme,
            category=category,
            district=None,
            title="Лавки",
            summary="Лавки у сквері.",
            description="Поставимо лавки.",
            address="вул. Шопена, 3",
            latitude=None,
            longitude=None,
            cost_lines=[services.CostLineInput("Лавки", 1000)],
            photos=[upload("a.jpg", image_bytes())],
        )
    assert queued, "the processing task is queued on commit"
    photo = initiative.photos.get()
    assert not photo.is_public
    assert photo.thumbnail.name == ""
    assert services.pending_photo_ids(older_than=timedelta(0)) == [photo.pk]
    # The task was lost (a broker outage): the periodic sweep queues it again.
    InitiativePhoto.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    assert tasks.process_pending_photos.apply().get() == 1
    assert services.photo_process(photo.pk) is False, "a second run changes nothing"
    photo.refresh_from_db()
    assert photo.is_public
    assert services.pending_photo_ids(older_than=timedelta(0)) == []


def test_bad_photos_are_refused_and_the_form_keeps_what_was_typed(
    citizen_client, programme, category
):
    fake = upload("photo.jpg", b"%PDF-1.4 not a photo")
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")
    response = _submit(
        citizen_client,
        programme,
        category,
        [fake, upload("bomb.png", bomb.getvalue(), "image/png")],
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "photo.jpg" in page and "bomb.png" in page
    assert 'value="Сквер на Відродження"' in page, "the form keeps what the user typed"
    assert not Initiative.objects.exists() and not InitiativePhoto.objects.exists()
    too_many = [upload(f"{n}.jpg", image_bytes()) for n in range(project_photos.MAX_PHOTOS + 1)]
    assert _submit(citizen_client, programme, category, too_many).status_code == 400
    assert not Initiative.objects.exists()


def test_a_revision_adds_photos_up_to_the_limit(
    citizen, programme, category, moderator_a, django_capture_on_commit_callbacks
):
    initiative = make_initiative(programme, category, author=citizen, status="submitted")
    services.photos_add(initiative=initiative, uploads=[upload("a.jpg", image_bytes())] * 4)
    services.initiative_request_revision(
        initiative=initiative, actor=moderator_a, comment="Додайте фото місця."
    )
    common = {
        "initiative": initiative,
        "author": citizen,
        "category": category,
        "district": None,
        "title": initiative.title,
        "summary": initiative.summary,
        "description": initiative.description,
        "address": initiative.address,
        "latitude": None,
        "longitude": None,
        "cost_lines": [services.CostLineInput("Роботи", 1000)],
    }
    from opencity.core import Refused

    with pytest.raises(Refused) as refused:
        services.initiative_resubmit(
            **common, photos=[upload("b.jpg", image_bytes()), upload("c.jpg", image_bytes())]
        )
    assert refused.value.field == "photos"
    initiative.refresh_from_db()
    assert initiative.status == "revision" and initiative.photos.count() == 4, "rolled back"
    services.initiative_resubmit(**common, photos=[upload("b.jpg", image_bytes())])
    assert initiative.photos.count() == 5


def test_staff_hide_a_photo_audited_and_another_citys_clerk_gets_404(
    client, citizen, programme, category, moderator_a, moderator_b,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    initiative = make_initiative(programme, category, author=citizen, status="submitted")
    with django_capture_on_commit_callbacks(execute=True):
        (photo,) = services.photos_add(
            initiative=initiative, uploads=[upload("a.jpg", image_bytes(gps=True))]
        )
    photo.refresh_from_db()
    hide = reverse("admin:initiatives_initiative_photo_hide", args=[initiative.pk, photo.pk])
    original = reverse(
        "admin:initiatives_initiative_photo_original", args=[initiative.pk, photo.pk]
    )
    client.force_login(moderator_b)
    assert client.get(hide).status_code == 404
    assert client.get(original).status_code == 404
    assert client.post(hide, {"reason": "x"}).status_code == 404

    client.force_login(moderator_a)
    change = client.get(reverse("admin:initiatives_initiative_change", args=[initiative.pk]))
    assert photo.thumbnail.url in change.content.decode()
    response = client.get(original)
    assert response.status_code == 200
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).getexif().get(GPS_TAG)
    assert "attachment" in response["Content-Disposition"]

    refused = client.post(hide, {"reason": ""})
    assert refused.status_code == 200 and not InitiativePhoto.objects.get().hidden
    assert client.post(hide, {"reason": "Обличчя людей"}).status_code == 302
    assert InitiativePhoto.objects.get().hidden
    entry = AuditEntry.objects.get(action="initiatives.photo.hidden")
    assert entry.reason == "Обличчя людей" and entry.actor_id == moderator_a.pk
    page = client.get(initiative.get_absolute_url()).content.decode()
    assert photo.thumbnail.url not in page


def test_the_programme_page_maps_its_projects_and_lists_every_one(
    client, city_a, django_capture_on_commit_callbacks
):
    programme = make_programme(city_a, stage="voting")
    category = make_category(programme)
    placed = make_initiative(
        programme, category, title="Сквер <b>біля</b> школи", latitude="50.747233",
        longitude="25.325383", address="вул. Шевченка, 5",
    )  # fmt: skip
    unplaced = make_initiative(programme, category, title="Бібліотека", address="центр міста")
    rejected = make_initiative(
        programme, category, title="Відхилений", status="rejected",
        rejection_reason="other", latitude="50.75", longitude="25.33",
    )  # fmt: skip
    revision = make_initiative(programme, category, title="На доопрацюванні", status="revision")
    with django_capture_on_commit_callbacks(execute=True):
        services.photos_add(initiative=placed, uploads=[upload("a.jpg", image_bytes())])
    thumb = placed.photos.get().thumbnail.url

    page = client.get(programme.get_absolute_url()).content.decode()
    # The map is an enhancement over the list: hidden until the script shows it.
    assert re.search(r'id="project-map" hidden', page)
    assert "leaflet.markercluster.js" in page and "initiatives/map.js" in page
    points = json.loads(
        re.search(r'<script id="project-points" type="application/json">(.*?)</script>',
                  page, re.S).group(1)
    )  # fmt: skip
    assert [p["id"] for p in points] == [placed.pk]
    assert points[0]["lat"] == pytest.approx(50.747233) and points[0]["thumb"] == thumb
    assert points[0]["title"] == "Сквер <b>біля</b> школи"
    assert "<b>біля</b>" not in page, "titles are escaped in the page and in the JSON"
    # The list has every public project, with its address and photo, placed or not.
    assert placed.get_absolute_url() in page and unplaced.get_absolute_url() in page
    assert "вул. Шевченка, 5" in page and "центр міста" in page and thumb in page
    assert rejected.get_absolute_url() not in page and revision.get_absolute_url() not in page
    # No vote counts leak through the map (they stay hidden until the tally).
    assert "votes" not in json.dumps(points)


def test_the_project_page_shows_its_place_on_a_map(client, city_a):
    programme = make_programme(city_a, stage="voting")
    initiative = make_initiative(programme, latitude="50.747233", longitude="25.325383")
    page = client.get(initiative.get_absolute_url()).content.decode()
    assert 'data-lat="50.747233"' in page and 'data-lon="25.325383"' in page
    assert "initiatives/map.js" in page
    other = make_initiative(programme)
    assert "initiatives/map.js" not in client.get(other.get_absolute_url()).content.decode()
