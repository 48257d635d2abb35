"""HTML of the results' tables and charts, built in Python: a 60-question page has ~60
tables and charts, and the template engine took most of the page's time drawing them cell
by cell. Every text is escaped here; the template marks nothing else safe."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from members import report_formats
from members.reports import Chart, Table


def table_html(table: Table) -> SafeString:
    head = report_formats.head_html(table)
    body = report_formats.rows_html(table, table.rows) or (
        f'<tr><td colspan="{len(table.columns)}">{escape(_("No answers yet."))}</td></tr>'
    )
    foot = ""
    if table.totals:
        foot = f"<tfoot><tr>{report_formats.cells_html(table, table.totals)}</tr></tfoot>"
    return mark_safe(  # noqa: S308 - every piece above is escaped
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{escape(table.title)}">'
        '<table class="report-table">'
        f'<caption class="visually-hidden">{escape(table.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table></div>"
    )


def chart_svg(chart: Chart, chart_id: str) -> SafeString:
    """A bar chart whose labels stay >= 12 px on a 360 px phone: each label on its own line
    above a full-width bar, in a 340-unit-wide view box drawn at 14 units per letter (the
    view box is never scaled below ~0.95 on a 360 px screen)."""
    top = max((Decimal(b.value) for b in chart.bars), default=Decimal(0)) or Decimal(1)
    parts = []
    for k, bar in enumerate(chart.bars):
        y = k * 44
        width = Decimal(bar.value) / top * 280
        label = bar.label if len(bar.label) <= 44 else bar.label[:43] + "…"
        value = report_formats.display(bar.value, "int")
        parts.append(
            f'<text x="0" y="{y + 16}">{escape(label)}</text>'
            f'<rect class="bar" x="0" y="{y + 22}" width="{width:.1f}" height="18"/>'
            f'<text x="{width + 6:.1f}" y="{y + 36}">{escape(value)}</text>'
        )
    height = max(len(chart.bars), 1) * 44 + 4
    title = _("%(question)s: councils per answer; the table beside gives the same figures.") % {
        "question": chart.title
    }
    return mark_safe(  # noqa: S308 - every piece above is escaped
        f'<figure class="survey-chart"><svg role="img" aria-labelledby="{chart_id}" '
        f'viewBox="0 0 340 {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}">{escape(title)}</title>{"".join(parts)}</svg></figure>'
    )


def heat_html(question_text: str, rows: list[dict], labels: list[str]) -> SafeString:
    head = "".join(f'<th scope="col" class="num">{escape(lbl)}</th>' for lbl in labels)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num heat-{level}">{escape(report_formats.display(share, "decimal"))}% '
            f'<span class="meta">({count})</span></td>'
            for count, share, level in row["cells"]
        )
        body.append(f'<tr><th scope="row">{escape(row["product"])}</th>{cells}</tr>')
    return mark_safe(  # noqa: S308 - every piece above is escaped
        f'<div class="table-wrap" tabindex="0" role="region" aria-label="{escape(question_text)}">'
        '<table class="report-table heat">'
        f'<caption class="visually-hidden">{escape(question_text)}</caption>'
        f'<thead><tr><th scope="col">{escape(_("E-product"))}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
