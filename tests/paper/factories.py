"""Paper-channel helpers: valid tax numbers, a scan, batches with lines."""

from __future__ import annotations

import itertools

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from opencity.identity.keys import DocumentType, rnokpp_check_digit
from paper import services

_seq = itertools.count(100_000_001)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def rnokpp(n: int | None = None) -> str:
    """A valid РНОКПП (the check digit computed), different for each call."""
    nine = f"{(n if n is not None else next(_seq)) % 1_000_000_000:09d}"
    return nine + str(rnokpp_check_digit(nine))


def scan(name: str = "sheets.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def open_batch(clerk, *, petition=None, programme=None, day=None):
    return services.batch_open(
        clerk=clerk,
        petition=petition,
        programme=programme,
        place="ЦНАП, вул. Винниченка, 8",
        collected_on=day or timezone.localdate(),
        scan=scan(),
    )


def enter(clerk, batch, number: str | None = None, *, name="Ганна Петрівна Мельник", **kw):
    kw.setdefault("id_kind", DocumentType.RNOKPP)
    kw.setdefault("address", "м. Луцьк, вул. Шевченка, 5, кв. 2")
    return services.line_enter(
        clerk=clerk, batch=batch, full_name=name, id_number=number or rnokpp(), **kw
    )
