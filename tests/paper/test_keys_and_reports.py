"""Where online accounts get their key, and both channels in the directors' report."""

import pytest
from django.test import TestCase
from django.utils import timezone

from opencity.accounts.adapter import store_identity_claims
from opencity.identity.keys import DocumentType, identity_key
from opencity.identity.models import PersonKey
from paper import selectors, services
from petitions.services import petition_sign
from tests.factories import make_user
from tests.paper.factories import enter, open_batch, rnokpp

pytestmark = pytest.mark.django_db


def test_an_identity_provider_login_with_a_tax_number_gives_the_key():
    person, number = make_user(), rnokpp()
    store_identity_claims(person, "idgovua", {"userinfo": {"drfocode": number}})
    assert PersonKey.objects.get(user=person).key == identity_key(DocumentType.RNOKPP, number)
    assert PersonKey.objects.get(user=person).source == "provider"


def test_a_clash_or_a_bad_number_never_stops_the_login():
    number = rnokpp()
    first, second = make_user(), make_user()
    store_identity_claims(first, "idgovua", {"drfocode": number})
    store_identity_claims(second, "idgovua", {"drfocode": number})  # another account's
    store_identity_claims(second, "idgovua", {"drfocode": "1234567890"})  # bad check digit
    assert not PersonKey.objects.filter(user=second).exists()
    second.refresh_from_db()
    assert second.identity_verified_at is not None


def test_the_directors_report_counts_both_channels_per_hromada(clerk_a, clerk_a2, petition, city_a):
    petition_sign(petition=petition, user=make_user())
    batch = open_batch(clerk_a, petition=petition)
    enter(clerk_a, batch)
    enter(clerk_a, batch)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.batch_confirm(clerk=clerk_a2, batch=batch)
    today = timezone.localdate()
    figures = selectors.city_activity(today, today)[city_a.pk]
    assert figures["signatures_online"] == 1 and figures["signatures_paper"] == 2
