"""Clerk workflow in Django admin: scoping, moderation queue, publish, reject, respond."""

import pytest
from django.urls import reverse

from petitions.models import Petition, PetitionRules, Signature
from tests.petitions.factories import make_petition, sign_many

Status = Petition.Status
pytestmark = pytest.mark.django_db


def test_clerk_sees_only_their_citys_petitions(moderator_a_client, city_a, city_b):
    mine = make_petition(city_a, status=Status.SUBMITTED, title="Петиція міста А")
    theirs = make_petition(city_b, status=Status.SUBMITTED, title="Петиція міста Б")
    page = moderator_a_client.get(reverse("admin:petitions_petition_changelist")).content.decode()
    assert mine.title in page and theirs.title not in page
    other = reverse("admin:petitions_petition_change", args=[theirs.pk])
    assert moderator_a_client.get(other).status_code in (302, 403, 404)
    publish = reverse("admin:petitions_petition_publish", args=[theirs.pk])
    assert moderator_a_client.post(publish).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.SUBMITTED


def test_moderation_queue_is_ordered_by_deadline(moderator_a_client, city_a):
    from datetime import date

    later = make_petition(city_a, status=Status.SUBMITTED, moderation_due=date(2030, 1, 10))
    sooner = make_petition(city_a, status=Status.SUBMITTED, moderation_due=date(2030, 1, 3))
    make_petition(city_a, status=Status.COLLECTING, title="Вже опублікована петиція")
    response = moderator_a_client.get(reverse("admin:petitions_moderationqueue_changelist"))
    rows = list(response.context["cl"].result_list)
    assert rows == [sooner, later]


def test_publish_button_publishes(moderator_a_client, city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    change = reverse("admin:petitions_petition_change", args=[petition.pk])
    publish = reverse("admin:petitions_petition_publish", args=[petition.pk])
    assert publish in moderator_a_client.get(change).content.decode()
    moderator_a_client.post(publish)
    petition.refresh_from_db()
    assert petition.status == Status.COLLECTING


def test_reject_action_asks_for_a_ground_then_rejects(moderator_a_client, city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    url = reverse("admin:petitions_petition_changelist")
    data = {"action": "reject_selected", "_selected_action": [petition.pk]}
    response = moderator_a_client.post(url, data)
    assert response.status_code == 200 and "ground" in response.content.decode()
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED
    response = moderator_a_client.post(url, {**data, "apply": "1", "ground": "bogus"})
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED  # invalid ground: form shown again
    moderator_a_client.post(url, {**data, "apply": "1", "ground": "obscene", "comment": "Лайка"})
    petition.refresh_from_db()
    assert (petition.status, petition.rejection_ground) == (Status.REJECTED, "obscene")
    assert petition.rejection_comment == "Лайка"


def test_publish_action_on_many(moderator_a_client, city_a):
    petitions = [make_petition(city_a, status=Status.SUBMITTED) for _ in range(2)]
    moderator_a_client.post(
        reverse("admin:petitions_petition_changelist"),
        {"action": "publish_selected", "_selected_action": [p.pk for p in petitions]},
    )
    assert set(Petition.objects.values_list("status", flat=True)) == {Status.COLLECTING}


def test_respond_form_validates_and_publishes_the_response(moderator_a_client, city_a):
    petition = make_petition(city_a, status=Status.REACHED)
    url = reverse("admin:petitions_petition_respond", args=[petition.pk])
    assert moderator_a_client.get(url).status_code == 200
    response = moderator_a_client.post(url, {"decision": "maybe", "text": "коротко"})
    assert response.status_code == 200 and response.context["form"].errors
    text = "Рада підтримує петицію і виділяє кошти у бюджеті на наступний рік."
    moderator_a_client.post(url, {"decision": "supported", "text": text})
    petition.refresh_from_db()
    assert (petition.status, petition.response_text) == (Status.ANSWERED, text)


def test_moderator_of_another_city_cannot_respond(client, moderator_b, city_a):
    petition = make_petition(city_a, status=Status.REACHED)
    client.force_login(moderator_b)
    url = reverse("admin:petitions_petition_respond", args=[petition.pk])
    assert client.post(url, {"decision": "supported", "text": "x" * 30}).status_code == 404
    petition.refresh_from_db()
    assert petition.status == Status.REACHED


def test_signatures_are_read_only_and_scoped(moderator_a_client, city_a, city_b):
    mine = make_petition(city_a)
    theirs = make_petition(city_b)
    sign_many(mine, 1)
    other_signer = sign_many(theirs, 1)[0]
    response = moderator_a_client.get(reverse("admin:petitions_signature_changelist"))
    assert response.status_code == 200
    assert other_signer.full_name not in response.content.decode()
    signature = Signature.objects.get(petition=mine)
    url = reverse("admin:petitions_signature_change", args=[signature.pk])
    moderator_a_client.post(url, {"notify_on_answer": ""})
    assert moderator_a_client.get(reverse("admin:petitions_signature_add")).status_code == 403
    delete = reverse("admin:petitions_signature_delete", args=[signature.pk])
    assert moderator_a_client.post(delete, {"post": "yes"}).status_code == 403
    assert Signature.objects.filter(pk=signature.pk).exists()


def test_city_admin_edits_rules_and_the_90_day_cap_is_enforced(client, city_admin_a, city_a):
    client.force_login(city_admin_a)
    url = reverse("admin:petitions_petitionrules_add")
    data = {
        "city": city_a.pk,
        "threshold": 300,
        "collection_days": 91,
        "respond_working_days": 10,
        "moderation_working_days": 2,
    }
    response = client.post(url, data)
    assert response.status_code == 200 and not PetitionRules.objects.exists()
    client.post(url, {**data, "collection_days": 60})
    assert PetitionRules.objects.get(city=city_a).collection_days == 60


def test_moderator_cannot_change_rules(moderator_a_client):
    assert moderator_a_client.get(reverse("admin:petitions_petitionrules_add")).status_code == 403


def test_reject_page_of_one_petition_requires_a_ground(moderator_a_client, city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    url = reverse("admin:petitions_petition_reject", args=[petition.pk])
    change = reverse("admin:petitions_petition_change", args=[petition.pk])
    assert url in moderator_a_client.get(change).content.decode()
    response = moderator_a_client.post(url, {"ground": "", "comment": "<b>ні</b>"})
    assert response.status_code == 200 and set(response.context["form"].errors) == {
        "ground",
        "comment",
    }
    moderator_a_client.post(url, {"ground": "competence", "comment": "Це питання області."})
    petition.refresh_from_db()
    assert (petition.status, petition.rejection_ground) == (Status.REJECTED, "competence")


def test_reject_page_is_scoped_to_the_clerks_city(client, moderator_b, city_a):
    petition = make_petition(city_a, status=Status.SUBMITTED)
    client.force_login(moderator_b)
    url = reverse("admin:petitions_petition_reject", args=[petition.pk])
    assert client.post(url, {"ground": "obscene"}).status_code == 404
    petition.refresh_from_db()
    assert petition.status == Status.SUBMITTED
