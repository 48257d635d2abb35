"""Factories for the members app's models."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from members.models import CityEService, DuesTier, EProduct, MembershipEvent
from opencity.cities.models import City

_seq = itertools.count(1)

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def pdf_upload(name: str = "decision.pdf", content: bytes = PDF_BYTES, content_type=None):
    return SimpleUploadedFile(name, content, content_type=content_type or "application/pdf")


def make_event(
    city: City,
    status: str,
    effective_on: date,
    *,
    founding: bool = False,
    decided_by: str = MembershipEvent.Body.BOARD,
    ref: str = "",
) -> MembershipEvent:
    return MembershipEvent.objects.create(
        city=city,
        status=status,
        effective_on=effective_on,
        founding=founding,
        decided_by=decided_by,
        decision_date=effective_on,
        decision_ref=ref or f"B-{next(_seq)}",
    )


def make_member(city: City, since: date = date(2016, 1, 1), **kwargs) -> MembershipEvent:
    return make_event(city, MembershipEvent.Status.MEMBER, since, **kwargs)


def make_product(name: str | None = None, **fields) -> EProduct:
    n = next(_seq)
    name = name or f"Е-продукт {n}"
    fields.setdefault("slug", f"product-{n}")
    fields.setdefault("category", EProduct.Category.E_SERVICES)
    return EProduct.objects.create(name=name, **fields)


def adopt(city: City, product: EProduct, since: date, results: str = "") -> CityEService:
    return CityEService.objects.create(city=city, product=product, since=since, results=results)


def make_tiers() -> list[DuesTier]:
    """Small (< 50,000): 5,000 + 10,000.50; large: 15,000 + 30,000 UAH."""
    return [
        DuesTier.objects.create(
            name="Мала громада",
            min_population=0,
            max_population=49_999,
            entry_fee=Decimal("5000.00"),
            annual_dues=Decimal("10000.50"),
        ),
        DuesTier.objects.create(
            name="Велика громада",
            min_population=50_000,
            max_population=None,
            entry_fee=Decimal("15000.00"),
            annual_dues=Decimal("30000.00"),
        ),
    ]
