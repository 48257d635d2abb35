"""Filing a report: with and without JavaScript, photos, duplicates and bad input."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from opencity.core.models import AuditEntry, OutboundEmail
from opencity.workdays import add_working_days
from problems import conf
from problems.models import Follow, Photo, Report
from tests.factories import make_user
from tests.problems.factories import INSIDE, file_report, jpeg_bytes, photo_upload

pytestmark = pytest.mark.django_db


def _url(city) -> str:
    return reverse("problems:file", args=[city.slug])


def _form(category, **overrides) -> dict:
    data = {
        "category": str(category.pk),
        "title": "Глибока яма на перехресті",
        "description": "Небезпечно для авто.",
        "address": "",
        "lat": "",
        "lon": "",
    }
    data.update(overrides)
    return data


def test_filing_without_javascript_with_a_typed_landmark(citizen_client, citizen, city_a, potholes):
    response = citizen_client.post(
        _url(city_a), _form(potholes, address="вул. Лесі Українки, 5, біля зупинки")
    )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == report.get_absolute_url()
    assert report.lat is None and report.address.startswith("вул. Лесі Українки")
    assert report.status == "new" and report.reporter == citizen
    assert report.department == potholes.department
    # Five working days from today, weekends and Ukrainian holidays excluded.
    assert report.answer_due == add_working_days(timezone.localdate(), 5)
    assert Follow.objects.filter(report=report, user=citizen).exists()
    assert AuditEntry.objects.filter(
        object_id=str(report.pk), action="problems.report.filed"
    ).exists()
    mail = OutboundEmail.objects.get(key=f"problems:new:{report.pk}")
    assert mail.to == "roads@city.example.org" and f"№{report.pk}" in mail.subject


def test_the_form_works_without_javascript(citizen_client, city_a, potholes):
    page = citizen_client.get(_url(city_a)).content.decode()
    # A plain multipart form with the place as typed fields; the map is an enhancement.
    assert 'enctype="multipart/form-data"' in page
    for field in ("id_address", "id_lat", "id_lon", "id_photos", "id_category"):
        assert f'id="{field}"' in page
    assert 'id="problem-map" hidden' in page.replace("\n  ", " ")
    assert "<optgroup" in page and "Ями" in page


def test_filing_with_a_map_point_and_a_photo_strips_gps_before_publishing(
    citizen_client, city_a, potholes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(
            _url(city_a),
            {
                **_form(potholes, lat=str(INSIDE[0]), lon=str(INSIDE[1]), not_duplicate="True"),
                "photos": [photo_upload(gps=True), photo_upload("b.png", fmt="PNG")],
            },
        )
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.lat, report.lon) == INSIDE
    photos = list(report.photos.all())
    assert len(photos) == 2
    photo = photos[0]
    # The task ran on commit (eager in tests): public versions exist, without EXIF or GPS.
    assert photo.processed_at and photo.is_public
    with photo.original.open("rb") as fp:
        assert Image.open(fp).getexif().get(0x8825), "the original keeps its camera data"
    with photo.image.open("rb") as fp:
        public = Image.open(fp)
        assert not public.getexif() and "exif" not in public.info
    with photo.thumbnail.open("rb") as fp:
        assert max(Image.open(fp).size) <= conf.THUMBNAIL_SIDE
    # The original lives in private storage, never under MEDIA_ROOT.
    assert "originals" in photo.original.path and "media" not in photo.original.path
    page = citizen_client.get(report.get_absolute_url()).content.decode()
    assert photo.thumbnail.url in page and photo.original.name not in page


def test_a_photo_is_not_public_until_processed(
    citizen, city_a, potholes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        report = file_report(city_a, potholes, citizen, uploads=[photo_upload()])
    photo = Photo.objects.get(report=report)
    assert not photo.is_public
    from problems.services import photo_process

    assert photo_process(photo.pk) is True
    assert photo_process(photo.pk) is False, "idempotent: a second run changes nothing"
    photo.refresh_from_db()
    assert photo.is_public


def test_open_reports_nearby_are_offered_before_filing_without_javascript(
    citizen_client, citizen, city_a, potholes
):
    existing = file_report(city_a, potholes, make_user(), point=(50.74720, 25.32540))
    # ~55 m north of the existing report, same category.
    data = _form(potholes, lat="50.74770", lon="25.32540", title="Ще одна яма тут")
    response = citizen_client.post(_url(city_a), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Add your voice instead" in page or "Додайте свій голос" in page
    assert existing.get_absolute_url() in page
    assert 'value="Ще одна яма тут"' in page, "the form keeps what was typed"
    assert Report.objects.count() == 1
    # Sending again (the form now says the person saw them) files the report.
    data["not_duplicate"] = "True"
    assert citizen_client.post(_url(city_a), data).status_code == 302
    assert Report.objects.count() == 2


def test_nearby_json_lists_only_open_reports_of_the_category_within_100_m(
    client, city_a, potholes, tree_a
):
    reporter = make_user()
    near = file_report(city_a, potholes, reporter, point=(50.74720, 25.32540))
    file_report(city_a, potholes, reporter, point=(50.75000, 25.32540))  # ~310 m
    other_category = tree_a[1]
    other_category_leaf = other_category.children.create(
        city=city_a, name_uk="Тротуари", department=tree_a[0]
    )
    file_report(city_a, other_category_leaf, reporter, point=(50.74721, 25.32541))
    response = client.get(
        reverse("problems:nearby_json"),
        {"category": potholes.pk, "lat": "50.74750", "lon": "25.32540"},
    )
    ids = [r["id"] for r in response.json()["reports"]]
    assert ids == [near.pk]
    assert response.json()["reports"][0]["distance_m"] < 100


# --- bad input -------------------------------------------------------------------------------


def _assert_refused(response, message: str, kept: str = "Глибока яма на перехресті"):
    page = response.content.decode()
    assert response.status_code in (400, 429), response.status_code
    assert message in page, page[:3000]
    assert f'value="{kept}"' in page, "the form keeps what the user typed"
    assert not Report.objects.exists()


@pytest.fixture
def english(citizen):
    citizen.preferred_language = "en"
    citizen.save(update_fields=["preferred_language"])


def test_a_file_that_is_not_an_image_is_refused(citizen_client, english, city_a, potholes):
    fake = io.BytesIO(b"%PDF-1.4 not a photo at all")
    fake.name = "photo.jpg"
    response = citizen_client.post(
        _url(city_a), {**_form(potholes, address="біля школи"), "photos": [fake]}
    )
    _assert_refused(response, "is not a photo we can read")


def test_a_photo_over_the_size_limit_is_refused(
    citizen_client, english, city_a, potholes, monkeypatch
):
    monkeypatch.setattr(conf, "PHOTO_MAX_BYTES", 500)
    response = citizen_client.post(
        _url(city_a), {**_form(potholes, address="біля школи"), "photos": [photo_upload()]}
    )
    _assert_refused(response, "is larger than")


def test_a_decompression_bomb_is_refused(citizen_client, english, city_a, potholes):
    # 12,000 × 12,000 one-bit pixels: a few kilobytes on disk, 144 megapixels decoded.
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")
    assert bomb.tell() < 100_000
    bomb.seek(0)
    bomb.name = "bomb.png"
    response = citizen_client.post(
        _url(city_a), {**_form(potholes, address="біля школи"), "photos": [bomb]}
    )
    _assert_refused(response, "has too many pixels")


def test_a_point_outside_the_city_is_refused(citizen_client, english, city_a, potholes):
    response = citizen_client.post(_url(city_a), _form(potholes, lat="48.29", lon="25.93"))
    _assert_refused(response, "This point is outside")


def test_an_unknown_category_is_refused(citizen_client, english, city_a, city_b, potholes):
    from tests.problems.factories import make_area, make_tree

    make_area(city_b)
    foreign = make_tree(city_b)[2]
    for value in (str(foreign.pk), "999999", str(potholes.parent_id)):
        data = {**_form(potholes, address="x y"), "category": value}
        response = citizen_client.post(_url(city_a), data)
        _assert_refused(response, "Choose a category from the list")


def test_a_ten_thousand_character_title_is_refused(citizen_client, english, city_a, potholes):
    response = citizen_client.post(
        _url(city_a), _form(potholes, title="я" * 10_000, address="біля школи")
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters" in page
    assert "я" * 300 in page, "the typed title is kept"
    assert not Report.objects.exists()


def test_a_report_without_any_place_is_refused(citizen_client, english, city_a, potholes):
    response = citizen_client.post(_url(city_a), _form(potholes))
    _assert_refused(response, "Type an address or landmark, or mark the place on the map")


def test_the_error_is_translated_into_ukrainian(citizen_client, city_a, potholes):
    response = citizen_client.post(_url(city_a), _form(potholes, lat="48.29", lon="25.93"))
    assert "Ця точка поза межами" in response.content.decode()


def test_filing_is_rate_limited_per_person_and_keeps_the_form(
    citizen_client, english, city_a, potholes, settings
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "problem_file": (1, 3600)}
    assert (
        citizen_client.post(_url(city_a), _form(potholes, address="біля школи")).status_code == 302
    )
    response = citizen_client.post(
        _url(city_a), _form(potholes, address="біля школи", title="Друга яма поруч")
    )
    page = response.content.decode()
    assert response.status_code == 429
    assert "You have filed many reports in the last hour" in page
    assert 'value="Друга яма поруч"' in page
    assert Report.objects.count() == 1


def test_filing_is_rate_limited_per_network_address(client, city_a, potholes, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "problem_file_ip": (1, 3600)}
    for person, expected in ((make_user(), 302), (make_user(), 429)):
        client.force_login(person)
        response = client.post(_url(city_a), _form(potholes, address="біля школи"))
        assert response.status_code == expected
    assert Report.objects.count() == 1


def test_photos_are_rate_limited_per_person(citizen_client, english, city_a, potholes, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "problem_photo": (2, 3600)}
    response = citizen_client.post(
        _url(city_a),
        {**_form(potholes, address="біля школи"), "photos": [photo_upload() for _ in range(3)]},
    )
    _assert_refused(response, "You have uploaded many photos in the last hour")


def test_more_than_five_photos_are_refused(citizen_client, english, city_a, potholes):
    response = citizen_client.post(
        _url(city_a),
        {**_form(potholes, address="біля школи"), "photos": [photo_upload() for _ in range(6)]},
    )
    _assert_refused(response, "Attach at most 5 photos")


def test_only_signed_in_people_with_a_confirmed_e_mail_file(
    client, unverified_citizen, city_a, potholes
):
    response = client.get(_url(city_a))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(unverified_citizen)
    assert client.post(_url(city_a), _form(potholes, address="x y")).status_code == 403
    assert not Report.objects.exists()


def test_the_reporter_is_anonymous_to_the_public_unless_they_choose(
    client, citizen_client, citizen, city_a, potholes
):
    citizen_client.post(_url(city_a), _form(potholes, address="біля школи"))
    citizen_client.post(
        _url(city_a), _form(potholes, address="біля школи", title="Друга яма", show_name="on")
    )
    anonymous, named = Report.objects.order_by("id")
    client.logout()
    page = client.get(anonymous.get_absolute_url()).content.decode()
    assert citizen.full_name not in page and citizen.email not in page
    page = client.get(named.get_absolute_url()).content.decode()
    assert citizen.full_name in page and citizen.email not in page


def test_choosing_the_city_first_works_without_javascript(citizen_client, city_a, area_a):
    response = citizen_client.get(reverse("problems:file_start"), {"city": city_a.slug})
    assert response.status_code == 302 and response["Location"] == _url(city_a)


def test_jpeg_helper_really_writes_gps():
    data = jpeg_bytes(gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get(0x8825)


def test_a_photo_that_cannot_be_decoded_is_never_shown_nor_retried(
    citizen, city_a, potholes, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile

    from problems import services

    truncated = jpeg_bytes((400, 300))[:600]  # a valid header, the pixels cut off
    upload = SimpleUploadedFile("cut.jpg", truncated, content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        report = file_report(city_a, potholes, citizen, uploads=[upload])
    photo = report.photos.get()
    assert photo.processed_at is not None and not photo.is_public
    assert services.pending_photo_ids(older_than=timedelta(0)) == []


@pytest.mark.django_db(transaction=True)
def test_filing_works_while_the_broker_is_down_and_the_sweep_catches_up(
    client, city_a, potholes, settings
):
    from datetime import timedelta

    from problems import services, tasks
    from tests.helpers import broker_down

    person = make_user()
    client.force_login(person)
    with broker_down():
        response = client.post(
            _url(city_a),
            {**_form(potholes, address="біля школи"), "photos": [photo_upload()]},
        )
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.processed_at is None, "the thumbnail task could not be queued"
    Photo.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    assert services.pending_photo_ids() == [photo.pk]
    assert tasks.process_pending_photos() == 1  # tasks run eagerly again once Redis is back
    photo.refresh_from_db()
    assert photo.is_public
