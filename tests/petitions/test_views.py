"""Citizen pages: who may and who may not, bad input, caching and constant query counts."""

import csv
import io
import json

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from petitions.models import Petition, Signature
from tests.factories import make_city, make_user
from tests.petitions.factories import make_petition, make_rules, sign_many

Status = Petition.Status
pytestmark = pytest.mark.django_db


def text_of(response):
    return response.content.decode()


# --- list -------------------------------------------------------------------------------------


def test_list_shows_only_public_petitions(client, city_a):
    shown = make_petition(city_a, status=Status.COLLECTING, title="Відкрита петиція про парк")
    hidden = [
        make_petition(city_a, status=s, title=f"Прихована {s}")
        for s in (Status.DRAFT, Status.SUBMITTED, Status.REJECTED, Status.WITHDRAWN)
    ]
    response = client.get(reverse("petitions:list"))
    assert response.status_code == 200
    assert shown.title in text_of(response)
    for petition in hidden:
        assert petition.title not in text_of(response)


def test_list_filters_by_city_status_and_text_and_sorts(client, city_a, city_b):
    park = make_petition(city_a, title="Зелений парк біля озера", signature_count=5)
    road = make_petition(city_a, title="Ремонт дороги на Шевченка", signature_count=9)
    other = make_petition(city_b, title="Зелений міст через річку")
    done = make_petition(city_a, status=Status.ANSWERED, title="Нові лавки у дворі")
    page = text_of(client.get(reverse("petitions:list"), {"city": city_a.slug, "q": "парк"}))
    assert park.title in page and road.title not in page and other.title not in page
    page = text_of(client.get(reverse("petitions:city", args=[city_a.slug])))
    assert park.title in page and other.title not in page
    page = text_of(client.get(reverse("petitions:list"), {"status": "answered"}))
    assert done.title in page and park.title not in page
    page = text_of(client.get(reverse("petitions:list"), {"sort": "signed"}))
    assert page.index(road.title) < page.index(park.title)


def test_list_survives_bad_filter_input(client, city_a):
    make_petition(city_a)
    response = client.get(
        reverse("petitions:list"),
        {"status": "hacked", "city": "nowhere", "sort": "x", "page": "abc", "q": "<b>"},
    )
    assert response.status_code == 200
    assert "<b>" not in text_of(response).split("<main", 1)[1].replace("&lt;b&gt;", "")


def test_a_city_page_without_public_petitions_lists_none_of_other_cities(client, city_a, city_b):
    other = make_petition(city_b, title="Петиція іншої громади про сквер")
    make_petition(city_a, status=Status.SUBMITTED)
    page = text_of(client.get(reverse("petitions:city", args=[city_a.slug])))
    assert other.title not in page


def test_an_invalid_filter_shows_an_error_and_no_results(client, city_a):
    shown = make_petition(city_a, title="Петиція про освітлення вулиці")
    response = client.get(reverse("petitions:list"), {"status": "hacked"})
    assert response.status_code == 200
    assert shown.title not in text_of(response)
    assert 'class="errorlist' in text_of(response)


def test_unknown_city_page_is_404(client):
    assert client.get(reverse("petitions:city", args=["atlantis"])).status_code == 404


def test_list_queries_do_not_grow_with_petitions(client, city_a, django_assert_max_num_queries):
    for _ in range(3):
        make_petition(city_a)
    # Cold cache: city choices (2), count, page.
    cache.clear()
    with django_assert_max_num_queries(4):
        client.get(reverse("petitions:list"), {"sort": "newest"})
    for _ in range(30):
        make_petition(make_city())
    cache.clear()
    with django_assert_max_num_queries(4):
        client.get(reverse("petitions:list"), {"sort": "newest"})
    # A repeated view is served from the cache without touching the database.
    with django_assert_max_num_queries(0):
        client.get(reverse("petitions:list"), {"sort": "newest"})


# --- detail -----------------------------------------------------------------------------------


def test_detail_shows_progress_names_and_no_emails(client, city_a):
    petition = make_petition(city_a, threshold=10)
    signers = sign_many(petition, 4)
    Petition.objects.filter(pk=petition.pk).update(signature_count=4)
    page = text_of(client.get(petition.get_absolute_url()))
    assert '<progress max="10" value="4"' in page
    assert 'property="og:title"' in page
    assert all(s.full_name in page for s in signers)
    assert not any(s.email in page for s in signers)
    assert petition.author.email not in page


def test_draft_is_visible_only_to_its_author_and_the_citys_staff(
    client, city_a, citizen, moderator_a, moderator_b
):
    petition = make_petition(city_a, author=citizen, status=Status.SUBMITTED)
    url = petition.get_absolute_url()
    assert client.get(url).status_code == 404
    for user, expected in (
        (make_user(), 404),
        (moderator_b, 404),
        (citizen, 200),
        (moderator_a, 200),
    ):
        client.force_login(user)
        assert client.get(url).status_code == expected, user


def test_detail_queries_do_not_grow_with_signatures(
    client, citizen, city_a, django_assert_max_num_queries
):
    petition = make_petition(city_a)
    sign_many(petition, 3)
    client.force_login(citizen)
    cache.clear()
    # 10: the page's personal part reads the person's signature, follow and receipt once.
    with django_assert_max_num_queries(10):
        client.get(petition.get_absolute_url())
    sign_many(petition, 60)
    Petition.objects.filter(pk=petition.pk).update(signature_count=63)
    cache.clear()
    with django_assert_max_num_queries(10) as captured:
        client.get(petition.get_absolute_url(), {"page": 2})
    assert len(captured.captured_queries) <= 10


def test_anonymous_detail_reload_is_one_query_when_cached(
    client, city_a, django_assert_max_num_queries
):
    petition = make_petition(city_a)
    client.get(petition.get_absolute_url())
    with django_assert_max_num_queries(1):
        client.get(petition.get_absolute_url())


def test_count_endpoint_reports_the_tallied_count(client, city_a):
    petition = make_petition(city_a, threshold=4, signature_count=1)
    data = json.loads(client.get(reverse("petitions:count", args=[petition.pk])).content)
    assert data == {"count": 1, "threshold": 4, "percent": 25, "status": "collecting"}
    draft = make_petition(city_a, status=Status.DRAFT)
    assert client.get(reverse("petitions:count", args=[draft.pk])).status_code == 404


# --- signing ----------------------------------------------------------------------------------


def test_anonymous_sign_goes_to_login(client, city_a):
    petition = make_petition(city_a)
    response = client.post(reverse("petitions:sign", args=[petition.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Signature.objects.exists()


def test_sign_records_once_and_tells_the_second_attempt(citizen_client, citizen, city_a):
    petition = make_petition(city_a)
    url = reverse("petitions:sign", args=[petition.pk])
    response = citizen_client.post(url, {"notify_on_answer": "on"}, follow=True)
    assert "Дякуємо" in text_of(response) or "Thank you" in text_of(response)
    response = citizen_client.post(url, follow=True)
    assert Signature.objects.filter(petition=petition, user=citizen).count() == 1
    assert Signature.objects.get(user=citizen).notify_on_answer is True
    assert response.status_code == 200


def test_sign_a_closed_petition_changes_nothing(citizen_client, city_a):
    petition = make_petition(city_a, status=Status.CLOSED)
    response = citizen_client.post(reverse("petitions:sign", args=[petition.pk]), follow=True)
    assert response.status_code == 200
    assert not Signature.objects.exists()


def test_sign_requires_post(citizen_client, city_a):
    petition = make_petition(city_a)
    assert citizen_client.get(reverse("petitions:sign", args=[petition.pk])).status_code == 405


@override_settings(RATE_LIMITS={"sign": (2, 60), "file": (5, 3600)})
def test_sign_rate_limit_answers_429(citizen_client, city_a):
    petitions = [make_petition(city_a) for _ in range(3)]
    codes = [
        citizen_client.post(reverse("petitions:sign", args=[p.pk])).status_code for p in petitions
    ]
    assert codes == [302, 302, 429]
    assert Signature.objects.count() == 2


# --- filing -----------------------------------------------------------------------------------


VALID = {"title": "Облаштувати пандуси біля поліклініки", "text": "Просимо облаштувати " * 5}


def test_anonymous_cannot_file(client):
    response = client.get(reverse("petitions:file"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_unverified_person_cannot_file(client, unverified_citizen, city_a):
    make_rules(city_a)
    client.force_login(unverified_citizen)
    assert client.get(reverse("petitions:file")).status_code == 403
    data = {**VALID, "city": city_a.slug, "action": "submit"}
    assert client.post(reverse("petitions:file"), data).status_code == 403
    assert not Petition.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "x" * 201),
        ("title", "<script>alert(1)</script> Заголовок петиції"),
        ("text", ""),
        ("text", "коротко"),
        ("text", "я" * 10_001),
        ("text", "Текст з <a href='x'>посиланням</a> " * 3),
        ("city", "atlantis"),
    ],
)
def test_bad_input_is_refused_with_errors_and_keeps_what_was_typed(
    citizen_client, city_a, field, value
):
    make_rules(city_a)
    data = {**VALID, "city": city_a.slug, "action": "preview", field: value}
    response = citizen_client.post(reverse("petitions:file"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    kept = "title" if field != "title" else "text"
    assert VALID[kept].strip()[:20] in text_of(response)
    assert not Petition.objects.exists()


def test_preview_saves_nothing_and_submit_files(citizen_client, citizen, city_a, moderator_a):
    make_rules(city_a)
    data = {**VALID, "city": city_a.slug}
    response = citizen_client.post(reverse("petitions:file"), {**data, "action": "preview"})
    assert response.status_code == 200 and VALID["title"] in text_of(response)
    assert not Petition.objects.exists()
    response = citizen_client.post(reverse("petitions:file"), {**data, "action": "edit"})
    assert response.context["form"]["title"].value() == VALID["title"]
    response = citizen_client.post(reverse("petitions:file"), {**data, "action": "submit"})
    petition = Petition.objects.get()
    assert response.status_code == 302 and response["Location"] == petition.get_absolute_url()
    assert (petition.status, petition.author, petition.city) == (Status.SUBMITTED, citizen, city_a)


def test_save_draft_then_submit_and_withdraw_by_the_author_only(
    citizen_client, citizen, city_a, client
):
    make_rules(city_a)
    citizen_client.post(
        reverse("petitions:file"), {**VALID, "city": city_a.slug, "action": "draft"}
    )
    petition = Petition.objects.get()
    assert petition.status == Status.DRAFT
    other = make_user()
    client.force_login(other)
    stranger = client.post(reverse("petitions:submit", args=[petition.pk]))
    assert stranger.status_code == 404  # the same answer as for a petition that does not exist
    assert petition.title not in stranger.content.decode()
    withdraw = client.post(reverse("petitions:withdraw", args=[petition.pk]))
    assert withdraw.status_code == 404
    petition.refresh_from_db()
    assert petition.status == Status.DRAFT
    client.force_login(citizen)
    withdraw_form = f'action="{reverse("petitions:withdraw", args=[petition.pk])}"'
    assert withdraw_form in client.get(petition.get_absolute_url()).content.decode()
    client.post(reverse("petitions:submit", args=[petition.pk]))
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED
    # The author's own page offers to withdraw it; nobody else is shown the form.
    assert withdraw_form in client.get(petition.get_absolute_url()).content.decode()
    client.post(reverse("petitions:withdraw", args=[petition.pk]))
    petition.refresh_from_db()
    assert petition.status == Status.WITHDRAWN
    response = client.post(reverse("petitions:withdraw", args=[petition.pk]), follow=True)
    assert response.status_code == 200  # refused with a message, nothing changed


@override_settings(RATE_LIMITS={"sign": (20, 60), "file": (1, 3600)})
def test_file_rate_limit_answers_429(citizen_client, city_a):
    make_rules(city_a)
    data = {**VALID, "city": city_a.slug, "action": "submit"}
    assert citizen_client.post(reverse("petitions:file"), data).status_code == 302
    assert citizen_client.post(reverse("petitions:file"), data).status_code == 429
    assert Petition.objects.count() == 1


def test_my_petitions_and_my_signatures_show_only_mine(citizen_client, citizen, city_a):
    mine = make_petition(city_a, author=citizen, status=Status.DRAFT)
    theirs = make_petition(city_a)
    signed = make_petition(city_a, title="Петиція, яку я підписав")
    Signature.objects.create(petition=signed, user=citizen)
    page = text_of(citizen_client.get(reverse("petitions:mine")))
    assert mine.title in page and theirs.title not in page
    page = text_of(citizen_client.get(reverse("petitions:signed")))
    assert signed.title in page and theirs.title not in page


def test_my_pages_need_login(client):
    assert client.get(reverse("petitions:mine")).status_code == 302
    assert client.get(reverse("petitions:signed")).status_code == 302


# --- signatory CSV and open data ------------------------------------------------------------


def test_signatory_csv_is_for_that_citys_staff_only(client, city_a, moderator_a, moderator_b):
    petition = make_petition(city_a)
    signers = sign_many(petition, 2)
    url = reverse("petitions:signatories_csv", args=[petition.pk])
    assert client.get(url).status_code == 302
    for user in (make_user(), moderator_b):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 404
        assert all(s.email not in response.content.decode() for s in signers)
    client.force_login(moderator_a)
    response = client.get(url)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["signed_at", "full_name", "email", "identity_provider"]
    assert {r[2] for r in rows[1:]} == {s.email for s in signers}


def test_open_data_exports_public_petitions_without_emails(client, city_a, city_b):
    shown = make_petition(city_a, status=Status.ANSWERED, title="=HYPERLINK(1) парк і сквер")
    make_petition(city_b)
    draft = make_petition(city_a, status=Status.DRAFT)
    response = client.get(reverse("petitions:export_csv"), {"city": city_a.slug})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(r["id"]) for r in rows] == [shown.pk]
    assert rows[0]["katottg"] == city_a.katottg
    assert rows[0]["author"] == shown.author_name
    assert rows[0]["response_decision"] == "supported"
    assert rows[0]["title"] == "'=HYPERLINK(1) парк і сквер"  # not a formula
    assert "@" not in body and draft.title not in body
    response = client.get(reverse("petitions:export_json"), {"status": "answered"})
    data = json.loads(b"".join(response.streaming_content))
    assert [p["id"] for p in data["petitions"]] == [shown.pk]
    assert set(data["petitions"][0]) >= {"city", "katottg", "threshold", "signature_count"}
    assert "@" not in json.dumps(data)
