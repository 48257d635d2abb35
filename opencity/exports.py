"""Helpers for files people open in spreadsheets (CSV and XLSX exports)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse

# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula is prefixed with ' to stay text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, dates ISO 8601, text safe from formula injection."""
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return spreadsheet_safe(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # Excel opens UTF-8 CSV with Cyrillic correctly only with a byte order mark.
    yield "\ufeff"
    if header is not None:
        yield writer.writerow([csv_cell(v) for v in header])
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def csv_response(
    rows: Iterable[Sequence[Any]],
    *,
    filename: str,
    header: Sequence[Any] | None = None,
    private: bool = False,
    stream: bool = False,
) -> HttpResponse | StreamingHttpResponse:
    """Every CSV download of the portal: UTF-8 with a BOM, one line per row, each cell through
    `csv_cell` (so no cell runs as a formula), served as an attachment named `filename`.

    `stream=True` writes rows as the iterable yields them (large open-data exports never sit
    in memory); `private=True` forbids any cache (personal data, directors' reports).
    """
    lines = _csv_lines(header, rows)
    if stream:
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            lines, content_type="text/csv; charset=utf-8"
        )
    else:
        buffer = io.StringIO()
        buffer.writelines(lines)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if private:
        response["Cache-Control"] = "private, no-store"
    return response
