"""Verified eligibility: age and residency from the identity provider's claims or from a
clerk of the city who checked a document; self-declared profiles stay for other programmes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from initiatives.models import Ballot, EligibilityCheck
from initiatives.services import eligibility_confirm
from opencity.accounts.adapter import store_identity_claims
from opencity.core import Refused
from opencity.core.models import AuditEntry
from tests.factories import make_clerk
from tests.initiatives.factories import make_initiative, make_programme, make_voter, years_ago
from tests.initiatives.test_ballot import confirm
from tests.initiatives.test_voting import refused_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(city_a):
    return make_programme(city_a, stage="voting", verified_eligibility=True, min_voter_age=16)


def test_self_declared_profile_is_not_enough_when_verification_is_required(programme, city_a):
    voter = make_voter(city_a)  # home city and date of birth typed into the profile
    initiative = make_initiative(programme)
    code = refused_code(confirm, voter=voter, programme=programme, initiatives=[initiative])
    assert code == "resident_unverified"
    assert not Ballot.objects.exists()


def test_identity_provider_claims_make_a_voter_eligible(programme, city_a):
    voter = make_voter(city_a, date_of_birth=None)
    store_identity_claims(
        voter,
        "id-gov-ua",
        {"birthdate": years_ago(30).isoformat(), "address": {"locality": city_a.name_uk}},
    )
    voter.refresh_from_db()
    assert voter.identity_provider == "id-gov-ua" and voter.verified_birth_date == years_ago(30)
    confirm(voter, programme, [make_initiative(programme)])
    assert Ballot.objects.filter(voter=voter).exists()


def test_claims_of_a_too_young_or_elsewhere_resident_are_refused(programme, city_a, city_b):
    young = make_voter(city_a)
    store_identity_claims(
        young,
        "id-gov-ua",
        {"birthdate": years_ago(12).isoformat(), "address": {"katottg": city_a.katottg}},
    )
    initiative = make_initiative(programme)
    assert refused_code(confirm, voter=young, programme=programme, initiatives=[initiative]) == (
        "age"
    )
    elsewhere = make_voter(city_a)
    store_identity_claims(
        elsewhere,
        "id-gov-ua",
        {"birthdate": years_ago(40).isoformat(), "address": {"locality": city_b.name_uk}},
    )
    code = refused_code(confirm, voter=elsewhere, programme=programme, initiatives=[initiative])
    assert code == "resident_unverified"
    no_birthdate = make_voter(city_a)
    store_identity_claims(
        no_birthdate, "id-gov-ua", {"birthdate": "garbage", "address": {"katottg": city_a.katottg}}
    )
    code = refused_code(confirm, voter=no_birthdate, programme=programme, initiatives=[initiative])
    assert code == "age_unverified"


def test_adapter_stores_claims_of_a_returning_login():
    from opencity.accounts.adapter import SocialAccountAdapter

    user = make_voter(None)
    login = SimpleNamespace(
        is_existing=True,
        user=user,
        account=SimpleNamespace(
            provider="id-gov-ua", extra_data={"userinfo": {"birthdate": "1990-02-03"}}
        ),
    )
    SocialAccountAdapter().pre_social_login(None, login)
    user.refresh_from_db()
    assert str(user.verified_birth_date) == "1990-02-03" and user.identity_verified_at


def test_clerk_check_makes_a_voter_eligible_and_is_recorded(programme, city_a, moderator_a):
    voter = make_voter(None, date_of_birth=None)  # nothing in the profile
    check = eligibility_confirm(
        clerk=moderator_a,
        city=city_a,
        user=voter,
        birth_date=years_ago(20),
        resident=True,
        document="паспорт",
    )
    assert check.checked_by == moderator_a and check.checked_at <= timezone.now()
    entry = AuditEntry.objects.get(action="initiatives.eligibility.confirmed")
    assert entry.actor_id == moderator_a.pk
    confirm(voter, programme, [make_initiative(programme)])
    assert Ballot.objects.filter(voter=voter).exists()


def test_clerk_of_another_city_cannot_confirm_voters(city_a, city_b):
    clerk_b = make_clerk(city_b)
    with pytest.raises(Refused):
        eligibility_confirm(
            clerk=clerk_b,
            city=city_a,
            user=make_voter(city_a),
            birth_date=years_ago(20),
            resident=True,
            document="паспорт",
        )
    assert not EligibilityCheck.objects.exists()


def test_clerk_confirms_a_voter_in_the_admin(client, moderator_a, city_a):
    voter = make_voter(city_a)
    client.force_login(moderator_a)
    response = client.post(
        reverse("admin:initiatives_eligibilitycheck_add"),
        {
            "email": voter.email.upper(),
            "city": city_a.pk,
            "birth_date": years_ago(25).isoformat(),
            "resident": "on",
            "document": "ID-картка",
        },
    )
    assert response.status_code == 302
    check = EligibilityCheck.objects.get(user=voter)
    assert check.checked_by == moderator_a and check.document == "ID-картка"


def test_self_declared_programmes_keep_the_profile(city_a):
    programme = make_programme(city_a, stage="voting")
    voter = make_voter(city_a)
    confirm(voter, programme, [make_initiative(programme)])
    assert Ballot.objects.filter(voter=voter).exists()
