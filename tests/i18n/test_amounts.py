"""Amounts are typed and shown the Ukrainian way: «12 500,00 грн»."""

from __future__ import annotations

from decimal import Decimal

import pytest

from initiatives.forms import CostLineForm
from tests.initiatives.factories import make_category, make_programme

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "typed,amount",
    [
        ("12 500,00", Decimal("12500.00")),
        (f"12{NBSP}500,5", Decimal("12500.50")),
        ("12\u202f500", Decimal("12500")),
        ("12500.00", Decimal("12500.00")),
        ("1 250 000", Decimal("1250000")),
    ],
)
def test_amount_fields_accept_ukrainian_spacing_and_a_decimal_comma(typed, amount):
    form = CostLineForm(data={"description": "Лавки для скверу", "amount": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == amount


def test_a_bad_amount_gets_a_clear_translated_error_and_keeps_the_typed_value():
    form = CostLineForm(data={"description": "Лавки", "amount": "дванадцять тисяч"})
    assert not form.is_valid()
    assert form.errors["amount"] == ["Введіть суму, наприклад 12 500,00."]
    html = str(form["amount"])
    assert 'value="дванадцять тисяч"' in html
    assert 'inputmode="decimal"' in html and 'type="text"' in html


@pytest.mark.django_db
def test_pages_show_amounts_with_space_thousands_a_comma_and_a_fixed_unit(client, city_a):
    programme = make_programme(city_a, total_budget=Decimal("10000000.00"))
    make_category(programme)
    html = client.get(f"/initiatives/{programme.slug}/").content.decode()
    assert f"10{NBSP}000{NBSP}000,00{NBSP}грн" in html


@pytest.mark.django_db
def test_an_overpayment_is_refused_with_the_amount_written_the_ukrainian_way(city_a):
    from datetime import date

    from django.utils import translation

    from members.services import invoice_issue, payment_record
    from opencity.core import Refused
    from tests.members.factories import make_tiers

    make_tiers()
    city_a.population = 20_000
    city_a.save()
    invoice, _ = invoice_issue(city=city_a, year=2023)
    with translation.override("uk"), pytest.raises(Refused) as refused:
        payment_record(invoice=invoice, amount=Decimal("99999.00"), paid_on=date(2023, 3, 1))
    assert f"15{NBSP}000,50{NBSP}грн" in str(refused.value)
