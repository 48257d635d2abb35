"""Values of dataset rows as JSON and CSV cells."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from opencity.exports import spreadsheet_safe


def json_value(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def json_row(row: dict) -> dict:
    return {name: json_value(value) for name, value in row.items()}


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(names: list[str], rows: Iterable[dict]) -> Iterator[str]:
    """Rows already keyed by column name (Dataset.row), in the columns' order."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(names)  # BOM: spreadsheets then read UTF-8 correctly
    for row in rows:
        yield writer.writerow([spreadsheet_safe(json_value(row.get(n))) for n in names])
