"""The ledger and open data pages in a real browser: accessible (axe-core, WCAG 2.1 AA) and
usable on a 360 px phone, for a signer checking their own receipt."""

from __future__ import annotations

import pytest

from opencity.ledger import services
from opencity.ledger.models import Entry
from petitions import services as petition_services
from tests.browser.fixtures import assert_accessible, sign_in
from tests.petitions.factories import make_petition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receipt(city_a, citizen):
    petition = make_petition(city_a)
    petition_services.petition_sign(petition=petition.pk, user=citizen)
    services.sequence_all()
    return Entry.objects.get(person_id=citizen.pk)


def _fits(browser) -> bool:
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


@pytest.mark.parametrize("path", ["/ledger/", "/opendata/"])
def test_public_pages_are_accessible_and_fit_a_phone(browser, receipt, path):
    browser.get(browser.base_url + path)
    assert_accessible(browser)
    browser.set_window_size(360, 800)
    browser.get(browser.base_url + path)
    assert _fits(browser)


def test_a_signer_finds_and_checks_their_receipt(browser, receipt, citizen):
    sign_in(browser, citizen)
    browser.get(browser.base_url + "/ledger/receipts/")
    assert receipt.receipt_code in browser.page_source
    assert_accessible(browser)
    browser.get(browser.base_url + f"/ledger/check/{receipt.receipt_code}")
    assert f"--receipt {receipt.receipt_code}" in browser.page_source
    assert_accessible(browser)
