"""What a signed-in visitor's part of the petition page shows (their signature, follow and
ledger receipt), read in one statement on every reload."""

import pytest
from django.test import override_settings

from opencity.ledger import services as ledger
from opencity.ledger.models import Entry
from opencity.notifications import services as notifications
from petitions import selectors, services
from petitions.models import Petition, Signature
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db
NOTHING = selectors.VisitorState(signed_at=None, following=False, receipt=None, verified=True)


def entry_for(user, petition) -> Entry:
    return Entry.objects.get(person_id=user.pk, subject=f"petitions.petition/{petition.pk}")


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)  # a worker appends to the ledger
def test_the_state_is_this_person_s_on_this_petition_and_the_receipt_once_appended(city_a, citizen):
    petition = make_petition(city_a, status=Petition.Status.COLLECTING)
    other = make_petition(city_a, status=Petition.Status.COLLECTING)
    assert selectors.visitor_state(petition, citizen) == NOTHING
    services.petition_sign(petition=other.pk, user=citizen)  # signs and follows the other
    assert selectors.visitor_state(petition, citizen) == NOTHING

    services.petition_sign(petition=petition.pk, user=citizen)
    signed = Signature.objects.get(petition=petition, user=citizen)
    state = selectors.visitor_state(petition, citizen)
    # Not appended yet: the page says the receipt is on its way (no catching up here).
    assert state == selectors.VisitorState(signed.created_at, True, None, verified=True)

    ledger.sequence_all()
    entry = entry_for(citizen, petition)
    state = selectors.visitor_state(petition, citizen)
    assert (state.receipt.index, state.receipt.receipt_code) == (entry.index, entry.receipt_code)
    assert state.receipt.receipt_code and state.signed_at == signed.created_at

    notifications.unfollow(citizen, petition)
    assert selectors.visitor_state(petition, citizen).following is False


def test_without_a_worker_the_receipt_is_appended_when_the_signer_looks(city_a, citizen):
    """The demo (tasks run eagerly, no beat): the signer's receipt appears at once."""
    petition = make_petition(city_a, status=Petition.Status.COLLECTING)
    services.petition_sign(petition=petition.pk, user=citizen)
    state = selectors.visitor_state(petition, citizen)
    entry = entry_for(citizen, petition)
    assert (state.receipt.index, state.receipt.receipt_code) == (entry.index, entry.receipt_code)


def test_a_person_without_a_confirmed_address_is_told_to_confirm_it_not_shown_the_form(
    city_a, unverified_citizen, client
):
    petition = make_petition(city_a, status=Petition.Status.COLLECTING)
    assert selectors.visitor_state(petition, unverified_citizen).verified is False
    client.force_login(unverified_citizen)
    for _ in range(2):  # the page as built, then from the cache
        page = client.get(petition.get_absolute_url()).content.decode()
        assert 'name="notify_on_answer"' not in page
        assert "Підтвердьте адресу електронної пошти, щоб підписувати петиції." in page


def test_the_state_answers_has_verified_email_for_the_rest_of_the_request(
    city_a, citizen, unverified_citizen, django_assert_num_queries
):
    from opencity.accounts.selectors import has_verified_email

    petition = make_petition(city_a, status=Petition.Status.COLLECTING)
    for person, verified in ((citizen, True), (unverified_citizen, False)):
        selectors.visitor_state(petition, person)
        with django_assert_num_queries(0):
            assert has_verified_email(person) is verified


def test_the_sign_form_is_in_each_visitor_s_language(city_a, client, django_user_model):
    from django.conf import settings

    from tests.factories import make_user

    petition = make_petition(city_a, status=Petition.Status.COLLECTING)
    for language, label in (
        ("uk", "Надіслати мені відповідь ради електронною поштою"),
        ("en", "E-mail me the council&#x27;s response"),
        ("uk", "Надіслати мені відповідь ради електронною поштою"),
    ):
        client.force_login(make_user())
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        page = client.get(petition.get_absolute_url()).content.decode()
        assert label in page, language
