"""The service centre's pages: who may see them, entering a batch through the forms, the
duplicate refused on its line keeping what was typed, the scan served privately."""

import pytest
from django.urls import reverse
from django.utils import timezone

from opencity.identity.keys import DocumentType
from opencity.identity.models import PersonKey
from paper.models import Batch, Line
from petitions.services import petition_sign
from tests.factories import make_user
from tests.paper.factories import PDF, enter, open_batch, rnokpp, scan

pytestmark = pytest.mark.django_db


def test_a_clerk_opens_a_batch_enters_lines_and_a_second_clerk_confirms(
    client, clerk_a, clerk_a2, petition
):
    client.force_login(clerk_a)
    response = client.post(
        reverse("admin:paper_batch_open"),
        {
            "subject": f"p{petition.pk}",
            "place": "ЦНАП Луцьк",
            "collected_on": timezone.localdate(petition.published_at).isoformat(),
            "scan": scan(),
        },
    )
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{batch.pk}/change/")
    page = client.get(response["Location"])
    assert page.status_code == 200 and "ЦНАП Луцьк" in page.content.decode()

    line_url = reverse("admin:paper_batch_line", args=[batch.pk])
    number = rnokpp()
    typed = {
        "full_name": "Ганна Мельник",
        "id_kind": DocumentType.RNOKPP,
        "id_number": number,
        "address": "вул. Шевченка, 5",
    }
    assert client.post(line_url, typed).status_code == 302
    # someone who signed online is refused on the line, with the channel, keeping the input
    person = make_user(full_name="Онлайн Підписант")
    other = rnokpp()
    from opencity.identity.services import person_key_confirm

    person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=other, source="clerk")
    petition_sign(petition=petition, user=person)
    refused = client.post(line_url, {**typed, "full_name": "Інша Особа", "id_number": other})
    body = refused.content.decode()
    assert refused.status_code == 422
    assert "Інша Особа" in body and ("online" in body or "онлайн" in body)
    assert "Онлайн Підписант" not in body
    # a bad check digit, on its field
    bad = number[:9] + str((int(number[9]) + 1) % 10)
    assert client.post(line_url, {**typed, "id_number": bad}).status_code == 422
    assert Line.objects.count() == 1

    # the entering clerk sees no confirm button and cannot confirm
    assert "Confirm the batch" not in page.content.decode()
    client.post(reverse("admin:paper_batch_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.ENTERING

    client.force_login(clerk_a2)
    client.post(reverse("admin:paper_batch_confirm", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CONFIRMED and batch.decided_by == clerk_a2


def test_a_clerk_of_another_city_gets_404_and_other_admins_stay_closed(
    client, clerk_a, clerk_b, petition
):
    batch = open_batch(clerk_a, petition=petition)
    client.force_login(clerk_b)
    for name in ("change", "scan", "line", "confirm", "reject", "void"):
        url = reverse(f"admin:paper_batch_{name}", args=[batch.pk])
        assert client.get(url).status_code == 404, name
    assert batch.pk not in [
        b.pk for b in client.get(reverse("admin:paper_batch_changelist")).context["cl"].result_list
    ]
    # a service clerk is no moderator
    client.force_login(clerk_a)
    assert client.get(reverse("admin:petitions_petition_changelist")).status_code == 403


def test_the_scan_is_served_only_through_the_permission_check(client, clerk_a, petition):
    batch = open_batch(clerk_a, petition=petition)
    assert not batch.scan.url.startswith("/media/")
    client.force_login(clerk_a)
    response = client.get(reverse("admin:paper_batch_scan", args=[batch.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    citizen = make_user()
    client.force_login(citizen)
    assert client.get(reverse("admin:paper_batch_scan", args=[batch.pk])).status_code == 302


def test_an_upload_that_is_not_a_scan_is_refused(client, clerk_a, petition):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(clerk_a)
    response = client.post(
        reverse("admin:paper_batch_open"),
        {
            "subject": f"p{petition.pk}",
            "place": "ЦНАП",
            "collected_on": timezone.localdate(petition.published_at).isoformat(),
            "scan": SimpleUploadedFile("x.pdf", b"MZ\x90\x00", content_type="application/pdf"),
        },
    )
    assert response.status_code == 200 and not Batch.objects.exists()
    assert "ЦНАП" in response.content.decode()


def test_a_clerk_confirms_an_account_holders_identity(client, clerk_a, city_a):
    person = make_user(email="olena@example.org")
    client.force_login(clerk_a)
    response = client.post(
        reverse("admin:paper_batch_identity"),
        {
            "email": "OLENA@example.org",
            "id_kind": "rnokpp",
            "id_number": rnokpp(),
            "city": city_a.pk,
        },
    )
    assert response.status_code == 302
    assert PersonKey.objects.get(user=person).source == "clerk"


def test_corrections_and_rejections_through_the_pages(client, clerk_a, clerk_a2, petition):
    batch = open_batch(clerk_a, petition=petition)
    line = enter(clerk_a, batch)
    from paper import services

    services.batch_confirm(clerk=clerk_a2, batch=batch)
    fix = open_batch(clerk_a, petition=petition)
    client.force_login(clerk_a)
    response = client.post(
        reverse("admin:paper_batch_void", args=[fix.pk]), {"voids": line.pk, "reason": "Дубль"}
    )
    assert response.status_code == 302
    client.force_login(clerk_a2)
    response = client.post(
        reverse("admin:paper_batch_reject", args=[fix.pk]), {"reason": "Не той аркуш"}
    )
    assert response.status_code == 302
    fix.refresh_from_db()
    line.refresh_from_db()
    assert fix.status == Batch.Status.REJECTED and line.is_counted
