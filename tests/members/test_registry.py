"""Membership status derived from history; the public city list, profile and catalogue."""

from datetime import date

import pytest
from django.urls import reverse

from members.models import CityContact, EProduct, MembershipEvent, OGPCommitment, OGPParticipation
from members.selectors import (
    cities_with_membership,
    city_membership,
    city_membership_status,
    member_cities,
)
from tests.factories import make_city
from tests.members.factories import adopt, make_event, make_member, make_product

pytestmark = pytest.mark.django_db
S = MembershipEvent.Status


@pytest.fixture
def history(city_a):
    make_event(city_a, S.CANDIDATE, date(2016, 1, 10))
    make_event(city_a, S.MEMBER, date(2016, 6, 1), decided_by="assembly")
    make_event(city_a, S.SUSPENDED, date(2019, 3, 1))
    make_event(city_a, S.MEMBER, date(2019, 9, 1))
    make_event(city_a, S.WITHDRAWN, date(2021, 1, 1))
    make_event(city_a, S.MEMBER, date(2023, 5, 5), decided_by="assembly")
    return city_a


@pytest.mark.parametrize(
    "day, status, since",
    [
        (date(2015, 12, 31), None, None),
        (date(2016, 1, 10), S.CANDIDATE, None),
        (date(2016, 5, 31), S.CANDIDATE, None),
        (date(2016, 6, 1), S.MEMBER, date(2016, 6, 1)),
        (date(2019, 5, 1), S.SUSPENDED, date(2016, 6, 1)),
        # a lifted suspension continues the same membership
        (date(2020, 1, 1), S.MEMBER, date(2016, 6, 1)),
        (date(2022, 1, 1), S.WITHDRAWN, None),
        # re-joining starts a new membership
        (date(2024, 1, 1), S.MEMBER, date(2023, 5, 5)),
    ],
)
def test_status_and_member_since_are_derived_from_history(history, day, status, since):
    assert city_membership_status(history, on=day) == status
    membership = city_membership(history, on=day)
    assert (membership.status, membership.since) == (status, since)
    annotated = cities_with_membership(on=day).get(pk=history.pk)
    assert annotated.membership_status == status


def test_future_event_does_not_change_todays_status(city_a):
    make_member(city_a, date(2016, 1, 1))
    make_event(city_a, S.WITHDRAWN, date(2099, 1, 1))
    assert city_membership_status(city_a) == S.MEMBER
    assert list(member_cities()) == [city_a]


def test_same_day_events_latest_recorded_wins(city_a):
    make_event(city_a, S.CANDIDATE, date(2020, 1, 1))
    make_member(city_a, date(2020, 1, 1))
    assert city_membership_status(city_a, on=date(2020, 1, 1)) == S.MEMBER


def test_founding_flag_only_on_member_events_is_enforced_by_the_database(city_a):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        make_event(city_a, S.CANDIDATE, date(2015, 6, 12), founding=True)


# --- public list ---------------------------------------------------------------------------
@pytest.fixture
def registry(city_a, city_b):
    make_member(city_a, date(2015, 6, 12), founding=True, decided_by="founding")
    make_event(city_b, S.CANDIDATE, date(2020, 2, 2))
    other = make_city(name_uk="Вінницька", name_en="Vinnytska", slug="vinnytska",
                      oblast_uk="Вінницька", oblast_en="Vinnytska")  # fmt: skip
    make_member(other, date(2018, 1, 1))
    chatbot = make_product("Міський чат-бот", slug="chatbot")
    adopt(city_a, chatbot, date(2020, 3, 1), results="40 000 звернень на рік")
    return {"a": city_a, "b": city_b, "other": other, "chatbot": chatbot}


def _names(response):
    return [city.name_uk for city in response.context["page"]]


def test_city_list_shows_members_by_default(client, registry):
    response = client.get(reverse("members:city_list"))
    assert response.status_code == 200
    assert sorted(_names(response)) == ["Вінницька", "Луцька"]


def test_city_list_filters_by_status_oblast_and_eservice(client, registry):
    url = reverse("members:city_list")
    assert _names(client.get(url, {"status": "candidate"})) == ["Чернівецька"]
    assert _names(client.get(url, {"oblast": "Вінницька"})) == ["Вінницька"]
    assert _names(client.get(url, {"eservice": "chatbot"})) == ["Луцька"]


def test_city_profile_shows_membership_eservices_and_ogp(client, registry):
    city = registry["a"]
    ogp = OGPParticipation.objects.create(
        city=city,
        member_since=date(2020, 12, 1),
        action_plan_start=date(2021, 1, 1),
        action_plan_end=date(2022, 12, 31),
        forum_exists=True,
    )
    OGPCommitment.objects.create(
        participation=ogp, title="Відкритий бюджет", deadline=date(2022, 6, 1)
    )
    response = client.get(reverse("members:city_detail", args=[city.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Міський чат-бот" in body
    assert "40 000 звернень на рік" in body
    assert "Відкритий бюджет" in body
    assert response.context["membership"].since == date(2015, 6, 12)
    assert response.context["membership"].founding


def test_city_contacts_are_shown_to_association_staff_only(
    client, registry, citizen, director, moderator_a, association_staff
):
    city = registry["a"]
    CityContact.objects.create(city=city, mayor="Ігор Поліщук", email="mayor@lutsk.example")
    url = reverse("members:city_detail", args=[city.slug])
    assert "mayor@lutsk.example" not in client.get(url).content.decode()
    for user in (citizen, director, moderator_a):
        client.force_login(user)
        assert "mayor@lutsk.example" not in client.get(url).content.decode()
    client.force_login(association_staff)
    assert "mayor@lutsk.example" in client.get(url).content.decode()


def test_unknown_city_is_404(client, db):
    assert client.get(reverse("members:city_detail", args=["nowhere"])).status_code == 404


# --- catalogue -----------------------------------------------------------------------------
def test_catalogue_filters_by_category_and_product_page_lists_cities(client, registry):
    make_product("Портал відкритих даних", slug="open-data", category=EProduct.Category.OPEN_DATA)
    url = reverse("members:product_list")
    names = [p.name for p in client.get(url, {"category": "open_data"}).context["page"]]
    assert names == ["Портал відкритих даних"]
    response = client.get(reverse("members:product_detail", args=["chatbot"]))
    assert response.status_code == 200
    assert "Луцька громада" in response.content.decode()
    assert client.get(reverse("members:product_detail", args=["nope"])).status_code == 404


def test_product_page_links_the_public_experts_who_helped(client, registry):
    from academy.models import Expert

    shown = Expert.objects.create(full_name="Олена Цифрова", slug="olena", is_public=True)
    hidden = Expert.objects.create(full_name="Прихований Експерт", slug="hidden", is_public=False)
    for expert in (shown, hidden):
        expert.products.add(registry["chatbot"])
    body = client.get(reverse("members:product_detail", args=["chatbot"])).content.decode()
    assert "Олена Цифрова" in body and reverse("academy:expert_detail", args=["olena"]) in body
    assert "Прихований Експерт" not in body


def test_city_list_filters_ogp_local_participants_members_or_not(client, registry):
    from members.models import OGPParticipation

    OGPParticipation.objects.create(city=registry["b"], member_since=date(2021, 1, 1))
    response = client.get(reverse("members:city_list"), {"ogp": "yes"})
    assert _names(response) == ["Чернівецька"]
