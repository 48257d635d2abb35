"""The five directors' reports: figures, tables, charts and exports.

Every builder runs a fixed number of queries whatever the number of cities (GROUP BY
aggregates here and in the figures other services register in `opencity.reports`) and
returns a `Report`: tables of raw values (Decimal for money, int for counts, date for dates)
that the HTML page, CSV and XLSX exports all render from, so the three always agree.
"""

from __future__ import annotations

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
from opencity import reports as service_reports
from opencity.cities.models import City

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
def period_report(date_from: date, date_to: date) -> Report:
    """What happened between two dates (inclusive): for the general assembly. The services'
    figures come from what they register in opencity.reports, in INSTALLED_APPS order."""
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
    summary = [
        (_("Cities that joined"), len(joined)),
        (_("Cities that left or were suspended"), len(left)),
        (_("E-services introduced"), len(introduced)),
    ]
    for source in service_reports.activity_sources():
        totals = source.total(date_from, date_to)
        summary += [(str(f.label), totals[f.key]) for f in source.figures if f.summary]
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
_NOTHING: dict = {}  # a city a service has no figures for


def activity_report(date_from: date, date_to: date) -> Report:
    """The services' per-city figures in a period (what they register in opencity.reports):
    member cities, plus any city with activity. A fixed number of queries (one or a few per
    service, events, names)."""
    sources = service_reports.activity_sources()
    figures = [(source, f) for source in sources for f in source.figures if f.per_city]
    activity = {source.app: source.per_city(date_from, date_to) for source in sources}
    members = {c for c, s in _statuses_on(_events(), date_to).items() if s == Status.MEMBER}
    names = _city_names()
    city_ids = members.union(*(set(per_city) for per_city in activity.values()))
    city_ids = sorted((c for c in city_ids if c in names), key=lambda c: (names[c][0], c))
    # ~1,500 cities x ~15 figures: each city's entry is looked up once per service.
    apps = [source.app for source in sources]
    cells = [(apps.index(source.app), f.key, f.value) for source, f in figures]
    rows = []
    for c in city_ids:
        found = [activity[app].get(c, _NOTHING) for app in apps]
        rows.append([*names[c], *[value(found[i].get(key)) for i, key, value in cells]])
    totals = [_("Total"), ""] + [sum(row[k] for row in rows) for k in range(2, 2 + len(figures))]
    table = Table(
        title=_("Activity per city"),
        columns=[Column(_("City")), Column(_("Oblast"))]
        + [Column(str(f.heading), DECIMAL if f.decimal else INT) for _source, f in figures],
        rows=rows,
        totals=totals,
        paginate=True,
    )
    chart = None
    if figures:  # cities ranked by the first figure (petitions filed while petitions/ is installed)
        ranked = str(figures[0][1].label)
        busiest = sorted((r for r in rows if r[2]), key=lambda r: (-r[2], r[0]))[:15]
        chart = Chart(
            title=_("%(figure)s: the 15 most active cities") % {"figure": ranked},
            description=_("%(figure)s per city, %(start)s – %(end)s.")
            % {
                "figure": ranked,
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
