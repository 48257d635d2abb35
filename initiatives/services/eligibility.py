"""Verified eligibility: a programme may require a verified age and residency instead of the
self-declared profile. The proof is either what the identity provider vouched for at login
(OIDC `birthdate` and `address` claims, kept on the user by opencity.accounts.adapter) or a
check by a clerk of that city who saw a document (who and when recorded, audited)."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import EligibilityCheck, Programme
from initiatives.services._common import REVIEW_ROLES, age_on
from opencity.accounts.models import User
from opencity.cities.access import can_act_on_city
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.services import audit


def eligibility_confirm(
    *, clerk: User, city: City, user: User, birth_date: date, resident: bool, document: str
) -> EligibilityCheck:
    """Record that `clerk` checked `user`'s document for `city` (replaces an earlier check of
    the same city; audited). Moderators and city admins of that city only."""
    if not can_act_on_city(clerk, city.pk, REVIEW_ROLES):
        raise Refused(_("You may not confirm voters of this city."), code="forbidden")
    if not document.strip():
        raise Refused(_("Name the document you checked."), code="document", field="document")
    if birth_date > timezone.localdate():
        raise Refused(_("The date of birth is in the future."), code="date", field="birth_date")
    check, _created = EligibilityCheck.objects.update_or_create(
        user=user,
        city=city,
        defaults={
            "birth_date": birth_date,
            "resident": resident,
            "document": document.strip(),
            "checked_by": clerk,
            "checked_at": timezone.now(),
        },
    )
    audit(
        obj=check,
        action="initiatives.eligibility.confirmed",
        actor=clerk,
        city=city,
        data={"user": user.pk, "resident": resident, "document": check.document},
    )
    return check


def _claims_name_city(address: dict | None, city: City) -> bool:
    """The provider's address claim names this city: its KATOTTG code when the provider
    gives one, otherwise its locality equals the city's name (Ukrainian or English)."""
    if not address:
        return False
    if address.get("katottg"):
        return str(address["katottg"]).strip().upper() == city.katottg
    locality = str(address.get("locality", "")).strip().casefold()
    return bool(locality) and locality in (city.name_uk.casefold(), city.name_en.casefold())


def verified_facts(voter: User, programme: Programme) -> tuple[date | None, int | None]:
    """The voter's verified date of birth and home city for this programme: a clerk's check
    of this city first, else the identity provider's claims; (None, None) when unverified."""
    check = EligibilityCheck.objects.filter(user=voter, city_id=programme.city_id).first()
    if check is not None:
        return check.birth_date, programme.city_id if check.resident else None
    if voter.identity_verified_at is None:
        return None, None
    city = programme.city
    resident = _claims_name_city(voter.verified_address, city)
    return voter.verified_birth_date, city.pk if resident else None


def verified_refusal(
    voter: User, programme: Programme, min_age: int, residents_only: bool, today: date
) -> Refused | None:
    """Why the verified facts do not let `voter` vote, in words; None when they do."""
    birth, home_city = verified_facts(voter, programme)
    how = _("Sign in through the identity provider or ask the city's office to check a document.")
    if residents_only and home_city != programme.city_id:
        return Refused(
            _("This programme requires verified residency.") + " " + str(how),
            code="resident_unverified",
        )
    if min_age and birth is None:
        return Refused(
            _("This programme requires a verified age.") + " " + str(how), code="age_unverified"
        )
    if min_age and age_on(birth, today) < min_age:
        return Refused(
            _("Voters must be at least %(age)s years old.") % {"age": min_age}, code="age"
        )
    return None
