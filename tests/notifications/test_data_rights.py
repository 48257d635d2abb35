"""The person's data: an export of everything held about them (and nothing of anyone else),
linked for 7 days; deleting the account keeps signatures counted under the name given at
signing, unless the person asks to remove it."""

import json
import re
from datetime import date, timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format

from opencity.core.models import AuditEntry, OutboundEmail
from opencity.identity.models import PersonKey
from opencity.notifications import data, services
from opencity.notifications.models import DataExport, Follow
from petitions import selectors as petition_selectors
from petitions import services as petitions
from petitions.models import Petition, Signature
from tests.factories import PASSWORD, make_user
from tests.paper.factories import rnokpp
from tests.petitions.factories import make_petition

Status = Petition.Status
MY_NUMBER, OTHER_NUMBER = rnokpp(), rnokpp()


def export_link(user) -> str:
    email = OutboundEmail.objects.get(to=user.email, key__startswith="data-export:")
    return re.search(r"http\S+/account/data/export/\S+/", email.body_text).group(0)


def give_profile_application_and_key(person, city, *, name, phone, number):
    """An expert profile the person edits, a membership application they submitted for
    `city` and their identity key (the document number `number`)."""
    from academy.models import Topic
    from members.services import application_submit
    from opencity.identity.keys import DocumentType
    from opencity.identity.services import person_key_confirm
    from tests.academy.factories import make_expert
    from tests.members.factories import pdf_upload

    expert = make_expert(
        user=person, full_name=name, phone=phone, bio=f"Про себе: {name}", website=""
    )
    expert.expertise.add(Topic.objects.create(slug=f"t-{person.pk}", name_uk="Цифра", name_en="D"))
    application_submit(
        applicant=person,
        city=city,
        council_decision_number=f"№ {person.pk}/24",
        council_decision_date=date(2024, 3, 15),
        contact_name=name,
        contact_email=person.email,
        contact_phone=phone,
        message=f"Просимо прийняти. {name}",
        decision_file=pdf_upload(),
    )
    person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=number, source="clerk")
    return expert


@pytest.fixture
def two_people(committed, city_a, city_b):
    me = make_user(full_name="Оксана Перша", email="oksana@example.org")
    other = make_user(full_name="Іван Другий", email="ivan@example.org")
    with committed():  # the applications' receipts are sent
        give_profile_application_and_key(
            me, city_a, name="Оксана Перша", phone="+380 50 111 11 11", number=MY_NUMBER
        )
        give_profile_application_and_key(
            other, city_b, name="Іван Другий", phone="+380 67 222 22 22", number=OTHER_NUMBER
        )
    petition = make_petition(city_a, author=other, status=Status.COLLECTING, threshold=100)
    with committed():
        petitions.petition_sign(petition=petition, user=me)
        petitions.petition_sign(petition=petition, user=other)
    mine = make_petition(city_a, author=me, status=Status.COLLECTING, title="Моя петиція")
    return me, other, petition, mine


def test_export_contains_everything_and_nothing_of_anyone_else(client, committed, two_people):
    me, other, petition, mine = two_people
    mailed_to_me = list(
        OutboundEmail.objects.filter(to=me.email)
        .order_by("created_at", "pk")
        .values_list("subject", flat=True)
    )
    assert len(mailed_to_me) == 1  # the application's receipt
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
    profile = payload["academy"]["expert_profile"]
    assert profile["full_name"] == "Оксана Перша" and profile["phone"] == "+380 50 111 11 11"
    assert profile["bio"] == "Про себе: Оксана Перша" and profile["expertise"] == ["Цифра"]
    [application] = payload["members"]["membership_applications"]
    assert application["contact_name"] == "Оксана Перша"
    assert application["contact_email"] == me.email
    assert application["contact_phone"] == "+380 50 111 11 11"
    assert application["message"] == "Просимо прийняти. Оксана Перша"
    key = payload["account"]["identity_key"]
    since = PersonKey.objects.get(user=me).created_at
    with translation.override(me.preferred_language):
        on_file = date_format(timezone.localtime(since), "j E Y")
    assert abs(parse_datetime(key["on_file_since"]) - since) < timedelta(milliseconds=1)
    assert on_file in key["statement"] and key["confirmed_by"] == "clerk"
    assert [m["subject"] for m in payload["emails"]] == mailed_to_me
    assert "body_text" not in payload["emails"][0] and "to" not in payload["emails"][0]
    dumped = json.dumps(payload, ensure_ascii=False)
    assert other.email not in dumped and "Іван Другий" not in dumped
    assert "+380 67 222 22 22" not in dumped
    for person_key in PersonKey.objects.all():  # never a key, not even one's own
        assert person_key.key not in dumped
    assert MY_NUMBER not in dumped and OTHER_NUMBER not in dumped
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


def test_deletion_erases_the_expert_profile_application_contacts_identity_key_and_mail(
    client, committed, two_people
):
    from django.core.files.base import ContentFile

    from academy.models import Expert
    from members.models import MembershipApplication

    me, other, petition, mine = two_people
    expert = Expert.objects.get(user=me)
    expert.photo.save("oksana.jpg", ContentFile(b"\xff\xd8 a face"))
    photo = expert.photo.path
    sent = OutboundEmail.objects.get(to=me.email)  # the application's receipt
    assert sent.status == OutboundEmail.Status.SENT and sent.body_text and sent.headers
    unsent = OutboundEmail.objects.create(  # queued under another spelling of the address
        key="later", to="Oksana@Example.org", language="uk", subject="Ще лист", body_text="…"
    )
    others_mail = OutboundEmail.objects.get(to=other.email)
    others_body = others_mail.body_text
    client.force_login(me)
    with committed():
        assert client.post(reverse("notifications:delete"), {"confirm": "on"}).status_code == 302

    assert not Expert.objects.filter(full_name="Оксана Перша").exists()
    assert not __import__("os").path.exists(photo)
    assert Expert.objects.get(user=other).phone == "+380 67 222 22 22"
    application = MembershipApplication.objects.get(applicant=me)  # the city's record stays
    assert application.status == MembershipApplication.Status.SUBMITTED
    assert (application.contact_name, application.contact_email, application.contact_phone) == (
        "",
        "",
        "",
    )
    assert MembershipApplication.objects.get(applicant=other).contact_name == "Іван Другий"
    assert not PersonKey.objects.filter(user=me).exists()
    assert PersonKey.objects.filter(user=other).exists()
    sent.refresh_from_db()
    assert sent.subject and sent.sent_at and sent.status == OutboundEmail.Status.SENT
    assert (sent.to, sent.body_text, sent.body_html, sent.headers) == ("", "", "", {})
    assert not OutboundEmail.objects.filter(pk=unsent.pk).exists()  # never sent now
    assert not OutboundEmail.objects.filter(to__icontains="oksana").exists()
    others_mail.refresh_from_db()
    assert others_mail.to == other.email and others_mail.body_text == others_body != ""


def test_deletion_keeps_the_petition_count_and_the_person_still_counts_once(client, two_people):
    from opencity.core import Refused
    from opencity.identity.keys import DocumentType
    from opencity.identity.models import CountedAct
    from opencity.identity.services import person_key_confirm

    me, other, petition, mine = two_people
    key = PersonKey.objects.get(user=me).key
    client.force_login(me)
    assert client.post(reverse("notifications:delete"), {"confirm": "on"}).status_code == 302
    assert CountedAct.objects.filter(scope="petition", subject_id=petition.pk, key=key).exists()
    petitions.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 2
    # The same person, back with a new account and the same document, is not counted twice.
    again = make_user(email="oksana.nova@example.org")
    person_key_confirm(user=again, kind=DocumentType.RNOKPP, number=MY_NUMBER, source="provider")
    with pytest.raises(Refused) as refused, transaction.atomic():
        petitions.petition_sign(petition=petition, user=again)
    assert refused.value.code == "counted"
    petitions.petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 2


def test_deletion_keeps_budget_votes_and_academy_registrations_counted(client, committed, city_a):
    from academy import selectors as academy_selectors
    from academy import services as academy
    from academy.models import Registration
    from initiatives.models import ResultRow
    from initiatives.services import tally_programme, vote_cast
    from tests.academy.factories import make_past_session, make_session, seat
    from tests.initiatives.factories import make_initiative, make_programme, make_voter, stage_dates

    programme = make_programme(city_a, stage="voting")
    project = make_initiative(programme)
    person, neighbour = make_voter(city_a), make_voter(city_a)
    with committed():
        vote_cast(voter=person, initiative=project)
        vote_cast(voter=neighbour, initiative=project)
    session = make_session(city=city_a)
    registration = academy.register(session_id=session.pk, user=person)
    seat(make_past_session(city=city_a), person, city=city_a, attended=True)
    trained = academy_selectors.training_stats(by="total")["total"]["people_trained"]
    assert trained == 1

    client.force_login(person)
    with committed():
        assert client.post(reverse("notifications:delete"), {"confirm": "on"}).status_code == 302

    person.refresh_from_db()
    assert not person.is_active and person.home_city is None
    Programme = type(programme)
    Programme.objects.filter(pk=programme.pk).update(**stage_dates("results"))
    snapshot = tally_programme(programme_id=programme.pk)
    assert ResultRow.objects.get(snapshot=snapshot, initiative=project).votes == 2
    registration.refresh_from_db()
    assert registration.status == Registration.Status.SEATED
    assert session.registrations.filter(status=Registration.Status.SEATED).count() == 1
    stats = academy_selectors.training_stats(by="total")["total"]
    assert stats["people_trained"] == trained
    assert academy_selectors.training_stats(by="city")[city_a.pk]["people_trained"] == 1
