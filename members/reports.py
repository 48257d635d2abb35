"""The five directors' reports: figures, tables, charts and exports.

Every builder runs a fixed number of queries whatever the number of cities (GROUP BY
aggregates here and in the other apps' `city_activity` / `training_stats` selectors) and
returns a `Report`: tables of raw values (Decimal for money, int for counts, date for dates)
that the HTML page, CSV and XLSX exports all render from, so the three always agree.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, Sum
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import CityEService, EProduct, Invoice, MembershipEvent, Payment
from opencity.cities.models import City
from opencity.exports import spreadsheet_safe

Status = MembershipEvent.Status
ZERO = Decimal("0.00")

TEXT, INT, MONEY, DATE, DECIMAL = "text", "int", "money", "date", "decimal"


@dataclass
class Column:
    label: str
    kind: str = TEXT


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list]
    totals: list | None = None
    paginate: bool = False  # long per-city tables are paged on screen, never in exports


@dataclass
class Bar:
    label: str
    value: Decimal | int


@dataclass
class Chart:
    title: str
    description: str
    bars: list[Bar]
    kind: str = "bars"  # "bars" (horizontal, categories) or "columns" (vertical, time)
    table_title: str = ""  # the table that is the chart's text alternative


@dataclass
class Report:
    slug: str
    title: str
    tables: list[Table]
    chart: Chart | None = None
    params: dict = field(default_factory=dict)

    @property
    def filename(self) -> str:
        suffix = "_".join(str(v) for v in self.params.values() if v not in (None, ""))
        return f"{self.slug}_{suffix}" if suffix else self.slug


REPORTS = {
    "membership": gettext_lazy("Membership over time and by oblast"),
    "period": gettext_lazy("Period report"),
    "eservices": gettext_lazy("E-service adoption matrix"),
    "dues": gettext_lazy("Dues: invoiced, paid, arrears"),
    "activity": gettext_lazy("Activity per city"),
}
PERIOD_REPORTS = {"membership", "period", "activity"}


# --- helpers ---------------------------------------------------------------------------------
def month_ends(date_from: date, date_to: date) -> list[tuple[date, date]]:
    """(first day, last day capped at date_to) of every month that meets the range."""
    months = []
    year, month = date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        last = min(date.fromordinal(nxt.toordinal() - 1), date_to)
        months.append((date(year, month, 1), last))
        year, month = nxt.year, nxt.month
    return months


def _city_names() -> dict[int, tuple[str, str]]:
    """{city_id: (name, oblast)} for every hromada: one query, ~1,500 short rows."""
    return {
        pk: (name, oblast)
        for pk, name, oblast in City.objects.values_list("pk", "name_uk", "oblast_uk")
    }


def _statuses_on(events: list[tuple[int, str, date]], on: date) -> dict[int, str]:
    """{city_id: status} on a day, from (city_id, status, effective_on) sorted by date."""
    current: dict[int, str] = {}
    for city_id, status, effective_on in events:
        if effective_on > on:
            break
        current[city_id] = status
    return current


def _events() -> list[tuple[int, str, date]]:
    return list(
        MembershipEvent.objects.order_by("effective_on", "id").values_list(
            "city_id", "status", "effective_on"
        )
    )


def _status_label(status: str) -> str:
    return str(Status(status).label)


# --- 1. membership over time and by oblast ---------------------------------------------------
def membership_report(date_from: date, date_to: date) -> Report:
    """Cities by status at the end of each month of the range, and by oblast on date_to.

    Two queries: all membership events (a few per city) and city names; the monthly
    snapshots are a single sweep over the events in date order.
    """
    events = _events()
    statuses = list(Status.values)
    rows = []
    current: dict[int, str] = {}
    index = 0
    for first, last in month_ends(date_from, date_to):
        while index < len(events) and events[index][2] <= last:
            city_id, status, _day = events[index]
            current[city_id] = status
            index += 1
        counts = Counter(current.values())
        rows.append([first.strftime("%Y-%m")] + [counts.get(s, 0) for s in statuses])
    month_table = Table(
        title=_("Cities by membership status at the end of each month"),
        columns=[Column(_("Month"))] + [Column(_status_label(s), INT) for s in statuses],
        rows=rows,
    )

    on_last = _statuses_on(events, date_to)
    names = _city_names()
    by_oblast: dict[str, Counter] = defaultdict(Counter)
    for city_id, status in on_last.items():
        by_oblast[names[city_id][1]][status] += 1
    oblast_rows = [
        [oblast] + [by_oblast[oblast].get(s, 0) for s in statuses] for oblast in sorted(by_oblast)
    ]
    oblast_totals = [_("Total")] + [sum(row[i + 1] for row in oblast_rows) for i in range(4)]
    oblast_table = Table(
        title=_("Cities by oblast and status on %(day)s")
        % {"day": formats.date_format(date_to, "SHORT_DATE_FORMAT")},
        columns=[Column(_("Oblast"))] + [Column(_status_label(s), INT) for s in statuses],
        rows=oblast_rows,
        totals=oblast_totals,
    )
    member_index = 1 + statuses.index(Status.MEMBER)
    chart = Chart(
        title=_("Member cities per month"),
        description=_("Number of member cities at the end of each month, %(start)s to %(end)s.")
        % {"start": rows[0][0] if rows else "", "end": rows[-1][0] if rows else ""},
        bars=[Bar(row[0], row[member_index]) for row in rows],
        kind="columns",
        table_title=month_table.title,
    )
    return Report(
        slug="membership",
        title=str(REPORTS["membership"]),
        tables=[month_table, oblast_table],
        chart=chart,
        params={"from": date_from.isoformat(), "to": date_to.isoformat()},
    )


# --- 2. period report --------------------------------------------------------------------
def _sum_activity(activity: dict[int, dict], keys: tuple[str, ...]) -> dict[str, int]:
    return {key: sum(int(values.get(key, 0)) for values in activity.values()) for key in keys}


PETITION_KEYS = ("filed", "published", "reached_threshold", "answered_on_time", "answered_late")
INITIATIVE_KEYS = ("submitted", "funded")


def period_report(date_from: date, date_to: date) -> Report:
    """What happened between two dates (inclusive): for the general assembly."""
    from academy.selectors import training_stats
    from initiatives.selectors import city_activity as initiative_activity
    from petitions.selectors import city_activity as petition_activity

    names = _city_names()
    body_labels = dict(MembershipEvent.Body.choices)
    joined, left = [], []
    previous: dict[int, str] = {}
    in_membership = (Status.MEMBER, Status.SUSPENDED)
    for c, status, day, body, ref in (
        MembershipEvent.objects.filter(effective_on__lte=date_to)
        .order_by("effective_on", "id")
        .values_list("city_id", "status", "effective_on", "decided_by", "decision_ref")
    ):
        before, previous[c] = previous.get(c), status
        if day < date_from:
            continue
        # Joining = becoming a member from outside; a suspension lifted is not a new member.
        if status == Status.MEMBER and before not in in_membership:
            joined.append([names[c][0], names[c][1], day, str(body_labels.get(body, body)), ref])
        elif status in (Status.WITHDRAWN, Status.SUSPENDED) and before in in_membership:
            left.append([names[c][0], names[c][1], day, _status_label(status), ref])
    introduced = [
        [names[c][0], names[c][1], product, since]
        for c, product, since in CityEService.objects.filter(since__range=(date_from, date_to))
        .order_by("since", "city__name_uk")
        .values_list("city_id", "product__name", "since")
    ]
    training = training_stats(date_from=date_from, date_to=date_to, by="total").get("total") or {}
    petitions = _sum_activity(petition_activity(date_from, date_to), PETITION_KEYS)
    initiatives = _sum_activity(initiative_activity(date_from, date_to), INITIATIVE_KEYS)

    summary = [
        (_("Cities that joined"), len(joined)),
        (_("Cities that left or were suspended"), len(left)),
        (_("Training sessions held"), int(training.get("sessions_held") or 0)),
        (_("People trained"), int(training.get("people_trained") or 0)),
        (_("Training hours"), Decimal(training.get("hours") or 0)),
        (_("E-services introduced"), len(introduced)),
        (_("Petitions filed"), petitions["filed"]),
        (_("Petitions published"), petitions["published"]),
        (_("Petitions that reached the threshold"), petitions["reached_threshold"]),
        (_("Petitions answered on time"), petitions["answered_on_time"]),
        (_("Petitions answered late"), petitions["answered_late"]),
        (_("Initiatives submitted"), initiatives["submitted"]),
        (_("Initiatives funded"), initiatives["funded"]),
    ]
    summary_table = Table(
        title=_("The period in brief"),
        columns=[Column(_("Indicator")), Column(_("Value"), DECIMAL)],
        rows=[[label, value] for label, value in summary],
    )
    tables = [
        summary_table,
        Table(
            title=_("Cities that joined"),
            columns=[
                Column(_("City")),
                Column(_("Oblast")),
                Column(_("Effective from"), DATE),
                Column(_("Decided by")),
                Column(_("Decision")),
            ],
            rows=joined,
        ),
        Table(
            title=_("Cities that left or were suspended"),
            columns=[
                Column(_("City")),
                Column(_("Oblast")),
                Column(_("Effective from"), DATE),
                Column(_("Status")),
                Column(_("Decision")),
            ],
            rows=left,
        ),
        Table(
            title=_("E-services introduced"),
            columns=[
                Column(_("City")),
                Column(_("Oblast")),
                Column(_("E-product")),
                Column(_("In use since"), DATE),
            ],
            rows=introduced,
        ),
    ]
    chart = Chart(
        title=_("The period in figures"),
        description=_("Counts for %(start)s – %(end)s; training hours are left out.")
        % {
            "start": formats.date_format(date_from, "SHORT_DATE_FORMAT"),
            "end": formats.date_format(date_to, "SHORT_DATE_FORMAT"),
        },
        bars=[Bar(label, value) for label, value in summary if not isinstance(value, Decimal)],
        table_title=summary_table.title,
    )
    return Report(
        slug="period",
        title=str(REPORTS["period"]),
        tables=tables,
        chart=chart,
        params={"from": date_from.isoformat(), "to": date_to.isoformat()},
    )


# --- 3. e-service adoption matrix ------------------------------------------------------------
def eservices_report(on: date | None = None) -> Report:
    """Cities (members on `on`, and any city that runs an e-product) × e-products.

    Three queries: products, adoptions, and membership events + names (two).
    """
    on = on or timezone.localdate()
    products = list(EProduct.objects.order_by("name").values_list("pk", "name"))
    adoptions: dict[int, dict[int, date]] = defaultdict(dict)
    for city_id, product_id, since in CityEService.objects.filter(since__lte=on).values_list(
        "city_id", "product_id", "since"
    ):
        adoptions[city_id][product_id] = since
    members = {c for c, s in _statuses_on(_events(), on).items() if s == Status.MEMBER}
    names = _city_names()
    city_ids = sorted(members | set(adoptions), key=lambda c: (names[c][0], c))
    rows = []
    for city_id in city_ids:
        ran = adoptions.get(city_id, {})
        rows.append(
            [names[city_id][0], names[city_id][1]]
            + [ran.get(product_id) for product_id, _name in products]
            + [len(ran)]
        )
    counts = [sum(1 for c in city_ids if pid in adoptions.get(c, {})) for pid, _n in products]
    table = Table(
        title=_("Cities and the e-products they run (date in use since)"),
        columns=[Column(_("City")), Column(_("Oblast"))]
        + [Column(name, DATE) for _pid, name in products]
        + [Column(_("E-services"), INT)],
        rows=rows,
        totals=[_("Cities running it"), ""] + counts + [sum(counts)],
        paginate=True,
    )
    chart = Chart(
        title=_("Cities running each e-product"),
        description=_("Number of cities that run each e-product on %(day)s.")
        % {"day": formats.date_format(on, "SHORT_DATE_FORMAT")},
        bars=[Bar(name, count) for (_pid, name), count in zip(products, counts, strict=True)],
        table_title=table.title,
    )
    return Report(
        slug="eservices",
        title=str(REPORTS["eservices"]),
        tables=[table],
        chart=chart,
        params={"on": on.isoformat()},
    )


# --- 4. dues ---------------------------------------------------------------------------------
def dues_years() -> list[int]:
    return list(Invoice.objects.order_by("-year").values_list("year", flat=True).distinct())


def dues_report(year: int | None = None) -> Report:
    """Invoiced, paid and arrears (invoiced − paid) per city and in total, in UAH.

    Two aggregate queries (invoices and payments grouped by city) plus city names; all
    arithmetic on Decimal.
    """
    invoices = Invoice.objects.all()
    payments = Payment.objects.all()
    if year:
        invoices = invoices.filter(year=year)
        payments = payments.filter(invoice__year=year)
    money = DecimalField(max_digits=14, decimal_places=2)
    invoiced = dict(
        invoices.values("city_id")
        .annotate(total=Sum(F("annual_dues") + F("entry_fee"), output_field=money))
        .values_list("city_id", "total")
    )
    paid = dict(
        payments.values("invoice__city_id")
        .annotate(total=Coalesce(Sum("amount"), ZERO, output_field=money))
        .values_list("invoice__city_id", "total")
    )
    names = _city_names()
    rows = []
    for city_id in sorted(invoiced, key=lambda c: (names[c][0], c)):
        billed, received = invoiced[city_id], paid.get(city_id, ZERO)
        rows.append([names[city_id][0], names[city_id][1], billed, received, billed - received])
    totals = [_("Total"), ""] + [sum((row[i] for row in rows), ZERO) for i in (2, 3, 4)]
    table = Table(
        title=_("Dues per city, UAH"),
        columns=[
            Column(_("City")),
            Column(_("Oblast")),
            Column(_("Invoiced"), MONEY),
            Column(_("Paid"), MONEY),
            Column(_("Arrears"), MONEY),
        ],
        rows=rows,
        totals=totals,
        paginate=True,
    )
    debtors = sorted((row for row in rows if row[4] > 0), key=lambda r: (-r[4], r[0]))[:15]
    chart = Chart(
        title=_("Largest arrears, UAH"),
        description=_("The %(n)s cities with the largest unpaid dues.") % {"n": len(debtors)},
        bars=[Bar(row[0], row[4]) for row in debtors],
        table_title=table.title,
    )
    return Report(
        slug="dues",
        title=str(REPORTS["dues"]),
        tables=[table],
        chart=chart,
        params={"year": year or ""},
    )


# --- 5. activity per city ---------------------------------------------------------------------
def activity_report(date_from: date, date_to: date) -> Report:
    """Petitions, initiatives and training per city in a period: member cities, plus any city
    with activity. A fixed number of queries (three selectors, events, names)."""
    from academy.selectors import training_stats
    from initiatives.selectors import city_activity as initiative_activity
    from petitions.selectors import city_activity as petition_activity

    petitions = petition_activity(date_from, date_to)
    initiatives = initiative_activity(date_from, date_to)
    trained = training_stats(date_from=date_from, date_to=date_to, by="city")
    members = {c for c, s in _statuses_on(_events(), date_to).items() if s == Status.MEMBER}
    names = _city_names()
    city_ids = members | set(petitions) | set(initiatives) | set(trained)
    city_ids = sorted((c for c in city_ids if c in names), key=lambda c: (names[c][0], c))
    rows = []
    for city_id in city_ids:
        p = petitions.get(city_id, {})
        i = initiatives.get(city_id, {})
        t = trained.get(city_id, {})
        rows.append(
            [
                names[city_id][0],
                names[city_id][1],
                int(p.get("filed", 0)),
                int(p.get("published", 0)),
                int(p.get("answered_on_time", 0)),
                int(p.get("answered_late", 0)),
                int(i.get("submitted", 0)),
                int(i.get("funded", 0)),
                int(t.get("people_trained", 0)),
            ]
        )
    totals = [_("Total"), ""] + [sum(row[k] for row in rows) for k in range(2, 9)]
    table = Table(
        title=_("Activity per city"),
        columns=[
            Column(_("City")),
            Column(_("Oblast")),
            Column(_("Petitions filed"), INT),
            Column(_("Petitions published"), INT),
            Column(_("Answered on time"), INT),
            Column(_("Answered late"), INT),
            Column(_("Initiatives submitted"), INT),
            Column(_("Initiatives funded"), INT),
            Column(_("Staff trained"), INT),
        ],
        rows=rows,
        totals=totals,
        paginate=True,
    )
    busiest = sorted((r for r in rows if r[2]), key=lambda r: (-r[2], r[0]))[:15]
    chart = Chart(
        title=_("Petitions filed: the 15 most active cities"),
        description=_("Petitions filed per city, %(start)s – %(end)s.")
        % {
            "start": formats.date_format(date_from, "SHORT_DATE_FORMAT"),
            "end": formats.date_format(date_to, "SHORT_DATE_FORMAT"),
        },
        bars=[Bar(row[0], row[2]) for row in busiest],
        table_title=table.title,
    )
    return Report(
        slug="activity",
        title=str(REPORTS["activity"]),
        tables=[table],
        chart=chart,
        params={"from": date_from.isoformat(), "to": date_to.isoformat()},
    )


# --- rendering helpers -----------------------------------------------------------------------
def display(value, kind: str) -> str:
    """A cell for the HTML page, in the active language's number and date formats."""
    if value is None or value == "":
        return "—" if kind == DATE else ""
    if kind == MONEY:
        return formats.number_format(value, 2, use_l10n=True, force_grouping=True)
    if kind in (INT, DECIMAL) and isinstance(value, int | Decimal):
        places = 0 if isinstance(value, int) else None
        return formats.number_format(value, places, use_l10n=True, force_grouping=True)
    if kind == DATE and isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def display_row(table: Table, row: list) -> list[tuple[str, str]]:
    """(text, kind) per cell, for the template (kind picks the alignment)."""
    return [
        (display(value, column.kind), column.kind)
        for value, column in zip(row, table.columns, strict=False)
    ]


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    # Text typed into admin must never run as a spreadsheet formula (CSV injection).
    return spreadsheet_safe(value)


def to_csv(report: Report) -> str:
    """All tables, one after another (title line, header, rows, totals), UTF-8 text."""
    out = io.StringIO()
    writer = csv.writer(out)
    for n, table in enumerate(report.tables):
        if n:
            writer.writerow([])
        if len(report.tables) > 1:
            writer.writerow([table.title])
        writer.writerow([_plain(column.label) for column in table.columns])
        for row in table.rows:
            writer.writerow([_plain(v) for v in row])
        if table.totals:
            writer.writerow([_plain(v) for v in table.totals])
    return out.getvalue()


XLSX_FORMATS = {MONEY: "#,##0.00", DATE: "yyyy-mm-dd", INT: "0"}


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
