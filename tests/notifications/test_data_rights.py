"""The person's data: an export of everything held about them (and nothing of anyone else),
linked for 7 days; deleting the account keeps signatures counted under the name given at
signing, unless the person asks to remove it."""

import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from opencity.core.models import AuditEntry, OutboundEmail
from opencity.notifications import data, services
from opencity.notifications.models import DataExport, Follow
from petitions import selectors as petition_selectors
from petitions import services as petitions
from petitions.models import Petition, Signature
from tests.factories import PASSWORD, make_user
from tests.petitions.factories import make_petition

Status = Petition.Status


def export_link(user) -> str:
    email = OutboundEmail.objects.get(to=user.email, key__startswith="data-export:")
    return re.search(r"http\S+/account/data/export/\S+/", email.body_text).group(0)


@pytest.fixture
def two_people(committed, city_a):
    me = make_user(full_name="Оксана Перша", email="oksana@example.org")
    other = make_user(full_name="Іван Другий", email="ivan@example.org")
    petition = make_petition(city_a, author=other, status=Status.COLLECTING, threshold=100)
    with committed():
        petitions.petition_sign(petition=petition, user=me)
        petitions.petition_sign(petition=petition, user=other)
    mine = make_petition(city_a, author=me, status=Status.COLLECTING, title="Моя петиція")
    return me, other, petition, mine


def test_export_contains_everything_and_nothing_of_anyone_else(client, committed, two_people):
    me, other, petition, mine = two_people
    client.force_login(me)
    with committed():
        assert client.post(reverse("notifications:data")).status_code == 302
    link = export_link(me)
    path = link[link.index("/account/") :]
    payload = client.get(path, {"format": "json"}).json()
    assert payload["account"]["email"] == me.email
    assert payload["account"]["full_name"] == "Оксана Перша"
    assert [s["petition_id"] for s in payload["petitions"]["signatures"]] == [petition.pk]
    assert [p["title"] for p in payload["petitions"]["petitions_filed"]] == ["Моя петиція"]
    assert {f["id"] for f in payload["notifications"]["follows"]} == {petition.pk}
    dumped = json.dumps(payload, ensure_ascii=False)
    assert other.email not in dumped and "Іван Другий" not in dumped
    page = client.get(path).content.decode()
    assert "Оксана Перша" in page and "Іван Другий" not in page


def test_export_is_prepared_once_even_if_the_task_runs_twice(committed, two_people):
    me, *_ = two_people
    with committed():
        export = data.request_export(me)
    assert data.prepare_export(export.pk) is False
    assert OutboundEmail.objects.filter(key=f"data-export:{export.pk}").count() == 1


def test_export_link_expires_after_seven_days(client, committed, two_people):
    me, *_ = two_people
    with committed():
        export = data.request_export(me)
    token = data.token(export)
    client.force_login(me)
    url = reverse("notifications:export", args=[token])
    assert client.get(url).status_code == 200
    later = __import__("time").time() + timedelta(days=7, minutes=1).total_seconds()
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert client.get(url).status_code == 404


def test_export_link_of_another_person_answers_404(client, committed, two_people):
    me, other, *_ = two_people
    with committed():
        export = data.request_export(me)
    client.force_login(other)
    assert client.get(reverse("notifications:export", args=[data.token(export)])).status_code == 404
    forged = data.token(export)[:-2] + "xx"
    client.force_login(me)
    assert client.get(reverse("notifications:export", args=[forged])).status_code == 404


def test_deletion_keeps_signatures_counted_under_the_name_given_at_signing(
    client, committed, two_people
):
    me, other, petition, mine = two_people
    me.full_name = "Оксана Змінена"  # a later profile edit does not rewrite the list
    me.save()
    client.force_login(me)
    response = client.post(reverse("notifications:delete"), {"confirm": "on"})
    assert response.status_code == 302
    me.refresh_from_db()
    assert not me.is_active and not me.has_usable_password()
    assert "oksana" not in me.email and me.full_name != "Оксана Змінена"
    assert not EmailAddress.objects.filter(user=me).exists()
    assert not Follow.objects.filter(user=me).exists()
    assert Signature.objects.filter(petition=petition).count() == 2
    petitions.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 2
    names = [n for n, _ in petition_selectors.signatories_page(petition).rows]
    assert names == ["Іван Другий", "Оксана Перша"]  # newest first
    assert AuditEntry.objects.filter(action="accounts.user.deleted", object_id=str(me.pk)).exists()
    assert not client.login(email="oksana@example.org", password=PASSWORD)


def test_deletion_removes_the_public_name_on_request(client, two_people):
    me, other, petition, mine = two_people
    client.force_login(me)
    client.post(reverse("notifications:delete"), {"confirm": "on", "remove_public_name": "on"})
    petitions.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    names = [n for n, _ in petition_selectors.signatories_page(petition).rows]
    assert names == ["Іван Другий", ""]  # newest first
    page = client.get(petition.get_absolute_url()).content.decode()
    assert "Оксана" not in page and "Іван Другий" in page


def test_deletion_without_confirmation_erases_nothing(client, two_people):
    me, *_ = two_people
    client.force_login(me)
    response = client.post(reverse("notifications:delete"), {"remove_public_name": "on"})
    assert response.status_code == 400
    me.refresh_from_db()
    assert me.is_active and me.email == "oksana@example.org"
    assert b'name="remove_public_name"' in response.content and b"checked" in response.content


def test_deletion_leaves_other_people_untouched(client, two_people):
    me, other, petition, mine = two_people
    services.follow(other, mine)
    client.force_login(me)
    client.post(reverse("notifications:delete"), {"confirm": "on"})
    other.refresh_from_db()
    assert other.is_active and other.email == "ivan@example.org"
    assert Follow.objects.filter(user=other).count() == 2
    assert not DataExport.objects.filter(user=me).exists()


def identified_person(city, clerk):
    """Someone the identity provider vouched for and a clerk checked, with a second factor."""
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    from initiatives.services import eligibility_confirm
    from opencity.accounts.adapter import store_identity_claims
    from tests.initiatives.factories import years_ago

    person = make_user(full_name="Марта Ідентифікована", email="marta@example.org")
    claims = {"sub": "ua-777", "birthdate": "1990-05-06", "address": {"locality": "Луцьк"}}
    SocialAccount.objects.create(
        user=person, provider="id-gov-ua", uid="ua-777", extra_data={"userinfo": claims}
    )
    store_identity_claims(person, "id-gov-ua", {"userinfo": claims})
    eligibility_confirm(
        clerk=clerk,
        city=city,
        user=person,
        birth_date=years_ago(36),
        resident=True,
        document="паспорт КВ123456",
    )
    Authenticator.objects.create(user=person, type=Authenticator.Type.TOTP, data={"s": "x"})
    return person


def test_export_contains_the_identity_claims_and_eligibility_checks(
    client, committed, city_a, moderator_a
):
    person = identified_person(city_a, moderator_a)
    client.force_login(person)
    with committed():
        client.post(reverse("notifications:data"))
    link = export_link(person)
    payload = client.get(link[link.index("/account/") :], {"format": "json"}).json()
    account = payload["account"]
    assert account["verified_birth_date"] == "1990-05-06"
    assert account["verified_address"] == {"locality": "Луцьк"}
    assert account["identity_links"][0]["extra_data"]["userinfo"]["sub"] == "ua-777"
    [check] = payload["initiatives"]["eligibility_checks"]
    assert check["document"] == "паспорт КВ123456" and check["resident"] is True


def test_deletion_erases_identity_claims_links_checks_and_second_factor(
    client, city_a, moderator_a
):
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    from initiatives.models import EligibilityCheck

    person = identified_person(city_a, moderator_a)
    client.force_login(person)
    assert client.post(reverse("notifications:delete"), {"confirm": "on"}).status_code == 302
    person.refresh_from_db()
    assert person.identity_verified_at is None and person.identity_provider == ""
    assert person.verified_birth_date is None and person.verified_address is None
    assert not SocialAccount.objects.filter(user=person).exists()
    assert not EligibilityCheck.objects.filter(user=person).exists()
    assert not Authenticator.objects.filter(user=person).exists()
