"""The experts directory: filters, contacts for signed-in users, editing one's own profile."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from academy.models import Expert
from members.models import EProduct
from tests.academy.factories import make_expert, make_member, make_session, make_topic
from tests.factories import make_city, make_user


@pytest.mark.django_db
def test_directory_filters_by_area_language_city_and_product(client, city_a):
    topic = make_topic(name_uk="Відкриті дані")
    product = EProduct.objects.create(
        name="Е-черга в садочки", slug="e-queue", category="e_services"
    )
    anna = make_expert(full_name="Анна Відкрита", languages="uk,pl")
    anna.expertise.add(topic)
    anna.cities.add(city_a)
    anna.products.add(product)
    make_expert(full_name="Борис Інший", languages="uk")
    make_expert(full_name="Прихований Експерт", is_public=False)

    def names(**params):
        body = client.get(reverse("academy:expert_list"), params).content.decode()
        return {n for n in ("Анна Відкрита", "Борис Інший", "Прихований Експерт") if n in body}

    assert names() == {"Анна Відкрита", "Борис Інший"}
    assert names(topic=topic.pk) == {"Анна Відкрита"}
    assert names(language="pl") == {"Анна Відкрита"}
    assert names(city=city_a.pk) == {"Анна Відкрита"}
    assert names(product=product.pk) == {"Анна Відкрита"}
    assert names(q="Борис") == {"Борис Інший"}


@pytest.mark.django_db
def test_contacts_are_shown_to_signed_in_users_only(client):
    expert = make_expert(email="anna@example.org", phone="+380 50 123 45 67")
    body = client.get(expert.get_absolute_url()).content.decode()
    assert "anna@example.org" not in body and "123 45 67" not in body
    client.force_login(make_user())
    body = client.get(expert.get_absolute_url()).content.decode()
    assert "anna@example.org" in body and "123 45 67" in body


@pytest.mark.django_db
def test_profile_lists_the_sessions_the_expert_teaches(client):
    expert = make_expert()
    session = make_session()
    session.trainers.add(expert)
    assert session.course.title in client.get(expert.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_hidden_profile_is_not_found(client):
    assert client.get(make_expert(is_public=False).get_absolute_url()).status_code == 404


def _png(size=(64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "#0b5cad").save(buffer, format="PNG")
    return buffer.getvalue()


def _form(expert, **extra):
    data = {"full_name": expert.full_name, "headline": "Нова посада", "bio": "Про мене",
            "languages": ["uk", "en"], "email": "new@example.org"}  # fmt: skip
    data.update(extra)
    return data


@pytest.mark.django_db
def test_expert_edits_their_own_profile_with_a_photo(client):
    user = make_user()
    expert = make_expert(user=user)
    client.force_login(user)
    url = reverse("academy:expert_edit", args=[expert.slug])
    assert client.get(url).status_code == 200
    member = make_member(make_city(name_uk="Луцька"))
    photo = SimpleUploadedFile("me.png", _png(), content_type="image/png")
    response = client.post(url, _form(expert, photo=photo, cities=[member.pk]))
    assert response.status_code == 302
    expert.refresh_from_db()
    assert expert.headline == "Нова посада" and expert.languages == "uk,en"
    assert expert.photo.name.endswith(".png")
    assert list(expert.cities.all()) == [member]


@pytest.mark.django_db
def test_nobody_edits_someone_elses_profile(client):
    expert = make_expert(user=make_user())
    url = reverse("academy:expert_edit", args=[expert.slug])
    client.force_login(make_user())
    assert client.get(url).status_code == 404
    assert client.post(url, _form(expert)).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
    expert.refresh_from_db()
    assert expert.headline != "Нова посада"


@pytest.mark.django_db
def test_profile_without_an_account_cannot_be_edited_on_the_site(client, association_staff):
    expert = make_expert()
    client.force_login(association_staff)  # staff edit such profiles in admin
    assert client.get(reverse("academy:expert_edit", args=[expert.slug])).status_code == 404


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("me.png", b"not an image at all", content_type="image/png"),
        SimpleUploadedFile("me.gif", b"GIF89a" + b"\x00" * 100, content_type="image/gif"),
    ],
)
@pytest.mark.django_db
def test_photo_that_is_not_a_jpeg_png_or_webp_is_refused(client, upload):
    user = make_user()
    expert = make_expert(user=user)
    client.force_login(user)
    upload.seek(0)
    response = client.post(
        reverse("academy:expert_edit", args=[expert.slug]), _form(expert, photo=upload)
    )
    assert response.status_code == 200
    assert not Expert.objects.get(pk=expert.pk).photo


@pytest.mark.django_db
def test_photo_over_two_megabytes_is_refused(client, settings):
    user = make_user()
    expert = make_expert(user=user)
    client.force_login(user)
    big = SimpleUploadedFile("big.png", _png() + b"\x00" * (2 * 1024 * 1024), "image/png")
    response = client.post(
        reverse("academy:expert_edit", args=[expert.slug]), _form(expert, photo=big)
    )
    assert response.status_code == 200
    assert "2\u00a0МБ" in response.content.decode()
