"""The ledger's pages and endpoints: explanation in both languages, checkpoint, proofs with
clear errors, receipts shown only to their owner, receipts next to signatures and votes."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from initiatives.services import ballot_confirm
from opencity.ledger import keys, services
from opencity.ledger.models import Entry
from opencity.ledger.verify import leaf_hash, verify_inclusion
from petitions import services as petition_services
from tests.factories import make_user
from tests.initiatives.factories import make_initiative, make_programme, make_voter
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(city_a, citizen):
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    for _ in range(4):
        petition_services.petition_sign(petition=petition.pk, user=make_user())
    services.sequence_all()
    return petition


def test_the_explanation_page_in_ukrainian_and_english_shows_key_and_checkpoint(client, signed):
    page = client.get("/ledger/").content.decode()
    assert "Публічний реєстр" in page
    assert keys.public_verifier_key() in page
    assert "verify.py" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/ledger/"})
    page = client.get("/ledger/").content.decode()
    assert "What is not recorded" in page
    assert "The latest checkpoint covers 5 entries." in page


def test_checkpoint_is_a_signed_note_open_to_any_origin(client, signed):
    response = client.get("/ledger/checkpoint")
    assert response["Content-Type"].startswith("text/plain")
    assert response["Access-Control-Allow-Origin"] == "*"
    lines = response.content.decode().split("\n")
    assert lines[:2] == [keys.origin(), "5"]
    assert lines[3] == "" and lines[4].startswith("\u2014 ")
    assert client.get("/ledger/checkpoints/5").content == response.content
    assert client.get("/ledger/checkpoints/4").status_code == 404


def test_inclusion_proof_endpoint_proves_a_leaf(client, signed):
    reply = client.get("/ledger/proof/inclusion", {"leaf": 2, "size": 5}).json()
    entry = Entry.objects.get(index=2)
    proof = [base64.b64decode(value) for value in reply["proof"]]
    from opencity.ledger.tree import root

    verify_inclusion(2, 5, leaf_hash(bytes(entry.data)), proof, root(5))


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("/ledger/proof/inclusion", {"leaf": "x", "size": 5}, "whole number"),
        ("/ledger/proof/inclusion", {"leaf": 5, "size": 5}, "leaf < size"),
        ("/ledger/proof/inclusion", {"leaf": 0, "size": 99}, "leaf < size"),
        ("/ledger/proof/consistency", {"from": 4, "to": 3}, "from ≤ to"),
        ("/ledger/proof/consistency", {"from": -1, "to": 3}, "negative"),
        ("/ledger/leaves", {"start": 3, "end": 1}, "end must not be before start"),
    ],
)
def test_bad_proof_requests_get_a_clear_error(client, signed, url, query, message):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(url, query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_receipt_lookup_gives_the_leaf_and_unknown_codes_404(client, signed, citizen):
    entry = Entry.objects.get(person_id=citizen.pk)
    reply = client.get(f"/ledger/receipt/{entry.receipt_code}").json()
    assert reply == {"index": entry.index, "leaf": base64.b64encode(bytes(entry.data)).decode()}
    assert client.get("/ledger/receipt/NOSUCHCODE").status_code == 404
    page = client.get(f"/ledger/check/{entry.receipt_code}")
    assert page.status_code == 200
    assert f"--receipt {entry.receipt_code}" in page.content.decode()
    assert citizen.full_name not in page.content.decode()


def test_my_receipts_lists_only_my_own_entries_with_their_salt(client, signed, citizen):
    mine = Entry.objects.get(person_id=citizen.pk)
    other = Entry.objects.exclude(person_id=citizen.pk).first()
    client.force_login(citizen)
    page = client.get("/ledger/receipts/").content.decode()
    assert mine.receipt_code in page and bytes(mine.salt).hex() in page
    assert other.receipt_code not in page and bytes(other.salt).hex() not in page
    client.logout()
    assert client.get("/ledger/receipts/").status_code == 302


def test_the_signer_sees_the_leaf_index_and_check_link_on_the_petition(client, signed, citizen):
    entry = Entry.objects.get(person_id=citizen.pk)
    client.force_login(citizen)
    page = client.get(signed.get_absolute_url()).content.decode()
    assert f"{entry.index}" in page
    assert reverse("ledger:check", args=[entry.receipt_code]) in page


def test_the_voter_sees_a_receipt_for_each_vote(client, city_a):
    programme = make_programme(city_a)
    initiative = make_initiative(programme)
    voter = make_voter(city_a)
    # The ballot is confirmed as the voter confirms it on the review page.
    ballot_confirm(voter=voter, programme=programme, initiative_ids=[initiative.pk])
    services.sequence_all()
    entry = Entry.objects.get(act="budget.vote", person_id=voter.pk)
    client.force_login(voter)
    receipt = client.get(reverse("initiatives:receipt", args=[programme.slug])).content.decode()
    assert reverse("ledger:check", args=[entry.receipt_code]) in receipt
    detail = client.get(
        reverse("initiatives:detail", args=[programme.slug, initiative.pk])
    ).content.decode()
    assert reverse("ledger:check", args=[entry.receipt_code]) in detail


def test_the_verifier_script_is_offered_for_download(client, db):
    response = client.get("/ledger/verify.py")
    body = b"".join(response.streaming_content)
    assert b"def verify_consistency" in body and b"import django" not in body
