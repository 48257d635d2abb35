"""Dues: tiers, one invoice per city and year, partial payments, arrears on Decimal."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from members.models import Invoice, Payment
from members.services import (
    invoice_issue,
    invoice_outstanding,
    invoices_issue_for_year,
    payment_record,
    tier_for_population,
)
from opencity.core import Refused
from tests.factories import make_city
from tests.members.factories import make_event, make_member, make_tiers

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(db):
    return make_tiers()


def test_tier_is_chosen_by_population(tiers):
    small, large = tiers
    assert tier_for_population(49_999) == small
    assert tier_for_population(50_000) == large
    assert tier_for_population(3_000_000) == large
    assert tier_for_population(None) is None


def test_first_invoice_carries_the_entry_fee_and_later_ones_do_not(tiers, city_a):
    city_a.population = 20_000
    city_a.save()
    first, created = invoice_issue(city=city_a, year=2023)
    second, _ = invoice_issue(city=city_a, year=2024)
    assert created
    assert (first.entry_fee, first.annual_dues, first.total) == (
        Decimal("5000.00"),
        Decimal("10000.50"),
        Decimal("15000.50"),
    )
    assert (second.entry_fee, second.total) == (Decimal("0"), Decimal("10000.50"))


def test_issuing_twice_returns_the_same_invoice(tiers, city_a):
    first, _ = invoice_issue(city=city_a, year=2024)
    again, created = invoice_issue(city=city_a, year=2024)
    assert (again.pk, created) == (first.pk, False)
    assert Invoice.objects.count() == 1


def test_database_refuses_a_second_invoice_for_the_same_year(tiers, city_a):
    invoice, _ = invoice_issue(city=city_a, year=2024)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            city=city_a, year=2024, annual_dues=Decimal("1"), issued_on=date.today(), number="X"
        )


def test_city_without_a_matching_tier_is_refused(city_a):
    with pytest.raises(Refused) as refused:
        invoice_issue(city=city_a, year=2024)
    assert refused.value.code == "no_tier"


def test_partial_payments_reduce_arrears_exactly(tiers, city_a):
    invoice, _ = invoice_issue(city=city_a, year=2024)  # 15,000 + 30,000
    payment_record(invoice=invoice, amount=Decimal("10000.10"), paid_on=date(2024, 2, 1))
    payment_record(invoice=invoice, amount=Decimal("0.01"), paid_on=date(2024, 3, 1))
    assert invoice_outstanding(invoice) == Decimal("34999.89")
    payment_record(invoice=invoice, amount=Decimal("34999.89"), paid_on=date(2024, 4, 1))
    assert invoice_outstanding(invoice) == Decimal("0.00")


@pytest.mark.parametrize(
    ("amount", "code"),
    [(Decimal("0"), "amount"), (Decimal("-5"), "amount"), (Decimal("45000.01"), "overpaid")],
)
def test_zero_negative_and_overpayments_are_refused(tiers, city_a, amount, code):
    invoice, _ = invoice_issue(city=city_a, year=2024)
    with pytest.raises(Refused) as refused:
        payment_record(invoice=invoice, amount=amount, paid_on=date(2024, 2, 1))
    assert refused.value.code == code
    assert not Payment.objects.exists()


def test_float_amounts_are_refused(tiers, city_a):
    invoice, _ = invoice_issue(city=city_a, year=2024)
    with pytest.raises(Refused) as refused:
        payment_record(invoice=invoice, amount=100.5, paid_on=date(2024, 2, 1))
    assert refused.value.code == "amount"


def test_database_refuses_a_non_positive_payment(tiers, city_a):
    invoice, _ = invoice_issue(city=city_a, year=2024)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(invoice=invoice, amount=Decimal("0"), paid_on=date(2024, 1, 1))


def test_invoices_for_a_year_go_to_that_years_members_only(tiers, city_a, city_b):
    make_member(city_a, date(2015, 6, 12))
    make_event(city_b, "candidate", date(2020, 1, 1))
    joined_late = make_city()
    make_member(joined_late, date(2023, 11, 1))
    left = make_city()
    make_member(left, date(2016, 1, 1))
    make_event(left, "withdrawn", date(2022, 6, 1))
    assert invoices_issue_for_year(year=2023) == 2
    assert set(Invoice.objects.values_list("city_id", flat=True)) == {city_a.pk, joined_late.pk}
    assert invoices_issue_for_year(year=2023) == 0  # idempotent


def test_admin_payment_form_refuses_overpayment(association_client, tiers, city_a):
    from django.urls import reverse

    invoice, _ = invoice_issue(city=city_a, year=2024)
    url = reverse("admin:members_payment_add")
    response = association_client.post(
        url, {"invoice": invoice.pk, "amount": "50000.00", "paid_on": "2024-02-01"}
    )
    assert response.status_code == 200
    assert not Payment.objects.exists()
    response = association_client.post(
        url, {"invoice": invoice.pk, "amount": "20000.00", "paid_on": "2024-02-01"}
    )
    assert response.status_code == 302
    assert Payment.objects.get().amount == Decimal("20000.00")


def test_daily_invoice_task_is_idempotent_and_skips_cities_without_a_tier(city_a, city_b):
    from members.tasks import issue_invoices_current_year

    make_tiers()
    make_member(city_a, date(2016, 1, 1))
    city_b.population = None  # no tier matches: skipped, not a failure of the whole run
    city_b.save()
    make_member(city_b, date(2016, 1, 1))
    assert issue_invoices_current_year.delay().get() == 1
    assert issue_invoices_current_year.delay().get() == 0
    assert Invoice.objects.get().city == city_a


def test_invoice_admin_shows_paid_and_outstanding(association_client, tiers, city_a):
    from django.urls import reverse

    invoice, _ = invoice_issue(city=city_a, year=2024)  # 45,000.00
    payment_record(invoice=invoice, amount=Decimal("20000.00"), paid_on=date(2024, 2, 1))
    response = association_client.get(reverse("admin:members_invoice_changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "25000.00" in body or "25000,00" in body or "25 000,00" in body


def test_admin_payment_form_starts_at_todays_date_in_kyiv(association_client, time_machine):
    from datetime import UTC, datetime

    from django.urls import reverse

    # 00:30 on 11 March in Kyiv is still 10 March in UTC, the server's clock.
    time_machine.move_to(datetime(2026, 3, 10, 22, 30, tzinfo=UTC), tick=False)
    url = reverse("admin:members_payment_add")
    response = association_client.get(url)
    assert response.context["adminform"].form.initial["paid_on"] == date(2026, 3, 11)
    # ?paid_on= in the address (admin's own way to prefill) still wins.
    response = association_client.get(url, {"paid_on": "2026-03-01"})
    assert response.context["adminform"].form.initial["paid_on"] == "2026-03-01"
