"""How a directors' report is shown and exported: HTML cells, CSV rows, XLSX, SVG chart."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from members.reports import DATE, DECIMAL, INT, MONEY, TEXT, Chart, Report, Table


# --- rendering helpers -----------------------------------------------------------------------
def display(value, kind: str) -> str:
    """A cell for the HTML page, in the active language's number and date formats."""
    if value is None or value == "":
        return "—" if kind == DATE else ""
    if kind == MONEY:
        return formats.number_format(value, 2, force_grouping=True)
    if kind in (INT, DECIMAL) and isinstance(value, int | Decimal):  # as many places as it has
        if type(value) is int and -1000 < value < 1000:  # most counts: no group to separate
            return str(value)
        return formats.number_format(value, force_grouping=True)
    if kind == DATE and isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def display_row(table: Table, row: list) -> list[tuple[str, str]]:
    """(text, kind) per cell (kind picks the alignment)."""
    return [
        (display(value, column.kind), column.kind)
        for value, column in zip(row, table.columns, strict=False)
    ]


def _align(kind: str) -> str:
    """Numbers, money and dates are right-aligned (the `num` class), text is not."""
    return ' class="num"' if kind != TEXT else ""


def head_html(table: Table) -> SafeString:
    """The header row's cells, aligned as the column's cells below them."""
    return mark_safe(  # noqa: S308 - every label is escaped
        "".join(
            f'<th scope="col"{_align(c.kind)}>{conditional_escape(c.label)}</th>'
            for c in table.columns
        )
    )


def cells_html(table: Table, row: list) -> SafeString:
    """One row's cells: the first a row header, numbers right-aligned, every text escaped.
    Built here, not cell by cell in a template: a report's page or print view has up to
    ~25,000 cells, which the template engine took most of the page's time to draw."""
    out = []
    for n, (text, kind) in enumerate(display_row(table, row)):
        if n == 0:
            out.append(f'<th scope="row">{conditional_escape(text)}</th>')
        else:
            out.append(f"<td{_align(kind)}>{conditional_escape(text)}</td>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped


def rows_html(table: Table, rows: list[list]) -> SafeString:
    """The <tr> rows of a table's body (see cells_html)."""
    return mark_safe("".join(f"<tr>{cells_html(table, row)}</tr>\n" for row in rows))  # noqa: S308


def report_csv_rows(report: Report) -> Iterator[list]:
    """All tables, one after another (title line, header, rows, totals), for csv_response
    (which keeps typed text from running as a spreadsheet formula)."""
    for n, table in enumerate(report.tables):
        if n:
            yield []
        if len(report.tables) > 1:
            yield [table.title]
        yield [column.label for column in table.columns]
        yield from table.rows
        if table.totals:
            yield table.totals


# Counts need no format of their own: a spreadsheet's General already shows a whole number
# whole, and a plain value is written some ten times faster than a styled cell (the activity
# table is ~1,500 cities x ~15 counts).
XLSX_FORMATS = {MONEY: "#,##0.00", DATE: "yyyy-mm-dd"}


def _xlsx_cells(sheet, values: list, kinds: list[str], font=None) -> list:
    from openpyxl.cell import WriteOnlyCell

    out = []
    for value, kind in zip(values, kinds, strict=False):
        if value is None or value == "":
            out.append(None)
        elif isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, never a formula
            if font is not None:
                cell.font = font
            out.append(cell)
        elif font is None and kind not in XLSX_FORMATS:
            out.append(value)
        else:
            cell = WriteOnlyCell(sheet, value=value)
            if kind in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[kind]
            if font is not None:
                cell.font = font
            out.append(cell)
    return out


def to_xlsx(report: Report) -> bytes:
    """One worksheet per table; numbers stay numbers (money with 2 decimals), dates dates."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    used = set()
    for table in report.tables:
        title = "".join(ch for ch in table.title if ch not in "[]:*?/\\")[:28] or "Sheet"
        while title in used:
            title = title[:26] + f"{len(used)}"
        used.add(title)
        sheet = workbook.create_sheet(title=title)
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.label)
            cell.data_type = "s"
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        kinds = [column.kind for column in table.columns]

        for row in table.rows:
            sheet.append(_xlsx_cells(sheet, row, kinds))
        if table.totals:
            sheet.append(_xlsx_cells(sheet, table.totals, kinds, bold))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _px(value) -> str:
    """A coordinate as text with a dot: templates would localise a number ("12,5" in uk)."""
    return f"{Decimal(value):.1f}"


def chart_geometry(chart: Chart) -> dict:
    """Coordinates for the server-rendered SVG (no JavaScript, no library)."""
    # Pixel geometry in Decimal too: amounts never pass through a float.
    values = [Decimal(bar.value) for bar in chart.bars]
    top = max(values, default=Decimal(0)) or Decimal(1)
    if chart.kind == "columns":
        n = max(len(values), 1)
        plot_w, plot_h, left, base = 720, 200, 40, 220
        step = Decimal(plot_w) / n
        every = max(1, (n + 6) // 12)
        columns = []
        for k, (bar, value) in enumerate(zip(chart.bars, values, strict=True)):
            h = value / top * plot_h
            columns.append(
                {
                    "x": _px(left + k * step),
                    "y": _px(base - h),
                    "w": _px(max(step - 1, 1)),
                    "h": _px(h),
                    "label": bar.label,
                    "value": display(bar.value, INT if isinstance(bar.value, int) else MONEY),
                    "tick": k % every == 0,
                    "tick_x": _px(left + k * step + step / 2),
                }
            )
        return {
            "kind": "columns",
            "width": left + plot_w + 10,
            "height": base + 40,
            "base": base,
            "left": left,
            "right": left + plot_w,
            "top_label": display(max((b.value for b in chart.bars), default=0), INT),
            "columns": columns,
        }
    label_w, plot_w, row_h = 330, 360, 24
    bars = []
    for k, (bar, value) in enumerate(zip(chart.bars, values, strict=True)):
        w = value / top * plot_w
        bars.append(
            {
                "y": k * row_h + 4,
                "text_y": k * row_h + 18,
                "w": _px(max(w, 0)),
                "value_x": _px(label_w + max(w, 0) + 6),
                "label": bar.label if len(bar.label) <= 46 else bar.label[:45] + "…",
                "value": display(bar.value, INT if isinstance(bar.value, int) else MONEY),
            }
        )
    return {
        "kind": "bars",
        "width": label_w + plot_w + 110,
        "height": max(len(bars), 1) * row_h + 8,
        "label_w": label_w,
        "bars": bars,
    }
