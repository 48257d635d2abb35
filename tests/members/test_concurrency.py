"""Two secretaries recording payments on one invoice at once cannot overpay it; two
representatives applying for one city at once leave exactly one open application."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from members.models import MembershipApplication, Payment
from members.services import (
    application_submit,
    invoice_issue,
    payment_record,
)
from opencity.core import Refused
from tests.factories import make_city, make_user
from tests.members.factories import make_tiers, pdf_upload

pytestmark = pytest.mark.django_db(transaction=True)


def _run_together(functions):
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait(timeout=10)
            function()
            outcomes[index] = "ok"
        except Refused as exc:
            outcomes[index] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def test_concurrent_payments_cannot_overpay_an_invoice():
    make_tiers()
    city = make_city(population=100_000)
    invoice, _ = invoice_issue(city=city, year=2024)  # 45,000 UAH

    def pay():
        payment_record(invoice=invoice, amount=Decimal("30000.00"), paid_on=date(2024, 2, 1))

    assert _run_together([pay, pay]) == ["ok", "overpaid"]
    assert Payment.objects.count() == 1


def test_concurrent_applications_for_one_city_leave_one_open():
    city = make_city()
    users = [make_user(), make_user()]

    def apply(user):
        return lambda: application_submit(
            applicant=user,
            city=city,
            council_decision_number="1",
            council_decision_date=date(2024, 1, 1),
            contact_name="Особа",
            contact_email="a@example.org",
            decision_file=pdf_upload(),
        )

    assert _run_together([apply(u) for u in users]) == ["ok", "open_application"]
    assert MembershipApplication.objects.count() == 1
