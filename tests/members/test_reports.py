"""Directors' reports: who may see them, every figure against hand-computed fixtures, the
CSV/XLSX exports and the printable view, and query counts independent of the city count."""

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from members import report_formats, reports
from members.models import Invoice, Payment
from tests.factories import make_city, make_user
from tests.members.factories import adopt, make_event, make_member, make_product

pytestmark = pytest.mark.django_db
SLUGS = list(reports.REPORTS)
Q1 = {"date_from": "2024-01-01", "date_to": "2024-03-31"}


# --- who may see them -------------------------------------------------------------------------
def _all_urls():
    urls = [reverse("members:report_index")]
    for slug in SLUGS:
        urls.append(reverse("members:report", args=[slug]))
        urls.append(reverse("members:report_export", args=[slug, "csv"]))
        urls.append(reverse("members:report_export", args=[slug, "xlsx"]))
    return urls


def test_anonymous_is_sent_to_sign_in(client, db):
    for url in _all_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("who", ["citizen", "moderator_a", "city_admin_a", "association_staff"])
def test_everybody_but_directors_is_refused(client, request, who):
    user = request.getfixturevalue(who)
    if who == "association_staff":  # the secretariat is not the board of directors
        user.is_superuser = False
        user.save()
    client.force_login(user)
    for url in _all_urls():
        assert client.get(url).status_code == 404, url


def test_directors_and_superusers_see_every_report(client, director):
    superuser = make_user(is_staff=True, is_superuser=True)
    for user in (director, superuser):
        client.force_login(user)
        for url in _all_urls():
            assert client.get(url).status_code == 200, url


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def world(db, monkeypatch):
    c1 = make_city(name_uk="Альфа", oblast_uk="Волинська")
    c2 = make_city(name_uk="Бета", oblast_uk="Рівненська")
    c3 = make_city(name_uk="Гамма", oblast_uk="Волинська")
    c4 = make_city(name_uk="Дельта", oblast_uk="Рівненська")
    make_member(c1, date(2015, 6, 12), founding=True, decided_by="founding")
    make_event(c2, "candidate", date(2023, 12, 1))
    make_member(c2, date(2024, 2, 15), decided_by="assembly", ref="GA-2024/1")
    make_member(c3, date(2016, 1, 1))
    make_event(c3, "suspended", date(2024, 3, 10), ref="B-2024/3")
    make_member(c4, date(2017, 1, 1))
    make_event(c4, "withdrawn", date(2024, 1, 20), ref="GA-2024/0")
    chatbot = make_product("Чат-бот", slug="chatbot")
    opendata = make_product("Відкриті дані", slug="opendata")
    adopt(c1, chatbot, date(2024, 2, 1))
    adopt(c2, chatbot, date(2023, 5, 1))
    adopt(c3, opendata, date(2020, 9, 1))

    calls = []

    def petitions_activity(date_from, date_to):
        calls.append(("petitions", date_from, date_to))
        return {
            c1.pk: {"filed": 5, "published": 4, "reached_threshold": 1,
                    "answered_on_time": 2, "answered_late": 1},
            c4.pk: {"filed": 3, "published": 2, "reached_threshold": 0,
                    "answered_on_time": 0, "answered_late": 1},
        }  # fmt: skip

    def initiatives_activity(date_from, date_to):
        calls.append(("initiatives", date_from, date_to))
        return {c1.pk: {"submitted": 2, "funded": 1}, c2.pk: {"submitted": 4, "funded": 0}}

    def training_stats(*, date_from=None, date_to=None, by="city"):
        calls.append(("academy", date_from, date_to, by))
        row = {"people_trained": 3, "hours": Decimal("12.5"), "sessions_held": 2,
               "avg_rating": None}  # fmt: skip
        if by == "total":
            return {"total": {**row, "people_trained": 7}}
        return {c2.pk: row}

    monkeypatch.setattr("petitions.selectors.city_activity", petitions_activity)
    monkeypatch.setattr("initiatives.selectors.city_activity", initiatives_activity)
    monkeypatch.setattr("academy.selectors.training_stats", training_stats)
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "calls": calls}


def _invoice(city, year, dues, entry="0"):
    return Invoice.objects.create(
        city=city,
        year=year,
        annual_dues=Decimal(dues),
        entry_fee=Decimal(entry),
        issued_on=date(year, 1, 15),
        number=f"T-{year}-{city.pk}",
    )


@pytest.fixture
def dues(world):
    c1, c2 = world["c1"], world["c2"]
    i1 = _invoice(c1, 2023, "10000.00", "5000.00")
    i2 = _invoice(c1, 2024, "10000.00")
    i3 = _invoice(c2, 2024, "30000.00", "15000.00")
    for invoice, amount in ((i1, "15000.00"), (i2, "2500.50"), (i3, "10000.00"), (i3, "5000.25")):
        Payment.objects.create(invoice=invoice, amount=Decimal(amount), paid_on=date(2024, 5, 1))
    return world


# --- figures ----------------------------------------------------------------------------------
def test_membership_over_time_and_by_oblast(world):
    report = reports.membership_report(date(2024, 1, 1), date(2024, 3, 31))
    months, oblasts = report.tables
    assert len(months.columns) == 5
    # month, candidate, member, suspended, withdrawn
    assert months.rows == [
        ["2024-01", 1, 2, 0, 1],
        ["2024-02", 0, 3, 0, 1],
        ["2024-03", 0, 2, 1, 1],
    ]
    assert oblasts.rows == [["Волинська", 0, 1, 1, 0], ["Рівненська", 0, 1, 0, 1]]
    assert oblasts.totals[1:] == [0, 2, 1, 1]
    assert [bar.value for bar in report.chart.bars] == [2, 3, 2]


def test_period_report(world):
    report = reports.period_report(date(2024, 1, 1), date(2024, 3, 31))
    summary, joined, left, introduced = report.tables
    figures = dict(summary.rows)
    # joined, left, e-services introduced; then what petitions, initiatives and academy register
    # … and problem reports (none filed in this world): filed, answered, answered on time; and
    # the paper channel's signatures and ballots online and on paper (none either)
    assert list(figures.values()) == [
        *[1, 2, 1, 8, 6, 1, 2, 2, 6, 1, 2, 7, Decimal("12.5"), 0, 0, 0],
        *[0, 0, 0, 0],
    ]
    assert joined.rows == [["Бета", "Рівненська", date(2024, 2, 15), "загальні збори", "GA-2024/1"]]
    assert [(r[0], r[2], r[4]) for r in left.rows] == [
        ("Дельта", date(2024, 1, 20), "GA-2024/0"),
        ("Гамма", date(2024, 3, 10), "B-2024/3"),
    ]
    assert introduced.rows == [["Альфа", "Волинська", "Чат-бот", date(2024, 2, 1)]]
    assert ("academy", date(2024, 1, 1), date(2024, 3, 31), "total") in world["calls"]
    assert ("petitions", date(2024, 1, 1), date(2024, 3, 31)) in world["calls"]


def test_lifting_a_suspension_is_not_joining(world):
    make_member(world["c3"], date(2024, 6, 1))
    report = reports.period_report(date(2024, 4, 1), date(2024, 6, 30))
    assert report.tables[1].rows == []


def test_eservice_matrix(world):
    report = reports.eservices_report(on=date(2024, 12, 31))
    (table,) = report.tables
    assert [c.label for c in table.columns][2:4] == ["Відкриті дані", "Чат-бот"]
    # members on the day (Альфа, Бета) plus Гамма, which runs a product while suspended
    assert table.rows == [
        ["Альфа", "Волинська", None, date(2024, 2, 1), 1],
        ["Бета", "Рівненська", None, date(2023, 5, 1), 1],
        ["Гамма", "Волинська", date(2020, 9, 1), None, 1],
    ]
    assert table.totals[2:] == [1, 2, 3]
    assert {bar.label: bar.value for bar in report.chart.bars} == {"Відкриті дані": 1, "Чат-бот": 2}


def test_dues_report_all_years_and_one_year(dues):
    (table,) = reports.dues_report().tables
    assert table.rows == [
        ["Альфа", "Волинська", Decimal("25000.00"), Decimal("17500.50"), Decimal("7499.50")],
        ["Бета", "Рівненська", Decimal("45000.00"), Decimal("15000.25"), Decimal("29999.75")],
    ]
    assert table.totals[2:] == [Decimal("70000.00"), Decimal("32500.75"), Decimal("37499.25")]
    (table,) = reports.dues_report(2024).tables
    assert table.rows[0][2:] == [Decimal("10000.00"), Decimal("2500.50"), Decimal("7499.50")]
    assert table.totals[2:] == [Decimal("55000.00"), Decimal("17500.75"), Decimal("37499.25")]
    assert all(isinstance(v, Decimal) for row in table.rows for v in row[2:])


# Problem reports filed, answered, answered on time, median hours to answer: none here; then
# signatures online and on paper, ballots online and on paper: none either.
NO_PROBLEMS = [0, 0, 0, Decimal("0"), 0, 0, 0, 0]


def test_activity_per_city(world):
    (table,) = reports.activity_report(date(2024, 1, 1), date(2024, 3, 31)).tables
    # Альфа and Бета are members on 31 March; Дельта left but had petitions in the period
    assert table.rows == [
        ["Альфа", "Волинська", 5, 4, 2, 1, 2, 1, 0, *NO_PROBLEMS],
        ["Бета", "Рівненська", 0, 0, 0, 0, 4, 0, 3, *NO_PROBLEMS],
        ["Дельта", "Рівненська", 3, 2, 0, 1, 0, 0, 0, *NO_PROBLEMS],
    ]
    assert table.totals[2:] == [8, 6, 2, 2, 6, 1, 3, *NO_PROBLEMS]


# The services' per-city figures, in the order they register (Ukrainian headings, kinds).
ACTIVITY_COLUMNS = [
    ("Подано петицій", "int"), ("Оприлюднено петицій", "int"), ("Відповідь вчасно", "int"),
    ("Відповідь невчасно", "int"), ("Подано ініціатив", "int"),
    ("Профінансовано ініціатив", "int"), ("Навчено працівників", "int"),
    ("Подано повідомлень про проблеми", "int"), ("Повідомлень про проблеми з відповіддю", "int"),
    ("Проблем із відповіддю вчасно", "int"), ("Медіана годин до відповіді", "decimal"),
    ("Підписи під петиціями онлайн", "int"), ("Підписи під петиціями на папері", "int"),
    ("Бюлетені громадського бюджету онлайн", "int"),
    ("Бюлетені громадського бюджету на папері", "int"),
]  # fmt: skip


def test_activity_report_table_and_chart_in_ukrainian(world):
    with translation.override("uk"):
        report = reports.activity_report(date(2024, 1, 1), date(2024, 3, 31))
        (table,) = report.tables
        assert (report.slug, report.title) == ("activity", "Активність за містами")
        assert report.params == {"from": "2024-01-01", "to": "2024-03-31"}
        assert report.filename == "activity_2024-01-01_2024-03-31"
        assert str(table.title) == "Активність за містами" and table.paginate is True
        assert [(str(c.label), c.kind) for c in table.columns] == [
            ("Громада", "text"), ("Область", "text"), *ACTIVITY_COLUMNS
        ]  # fmt: skip
        assert [str(v) for v in table.totals[:2]] == ["Разом", ""]
        chart = report.chart
        assert chart.title == "Подано петицій: 15 найактивніших міст"
        assert chart.description == "Подано петицій за містами, 01.01.2024 – 31.03.2024."
        assert str(chart.table_title) == "Активність за містами"
    # Бета filed no petition in the period: in the table, not on the chart
    assert chart.bars == [reports.Bar("Альфа", 5), reports.Bar("Дельта", 3)]


def test_activity_report_orders_cities_by_name_and_charts_the_15_busiest(world, monkeypatch):
    first = make_city(name_uk="Абрикосове", oblast_uk="Черкаська")  # first by name, last by id
    make_member(first, date(2020, 1, 1))
    others = [make_city(name_uk=f"Місто {n:02}", oblast_uk="Волинська") for n in range(14)]
    filed = {c.pk: 1 for c in others} | {others[13].pk: 9, world["c2"].pk: 2}
    filed |= {first.pk: 5, world["c4"].pk: 5, world["c1"].pk: 5}  # names and oblasts disagree
    monkeypatch.setattr(
        "petitions.selectors.city_activity",
        lambda date_from, date_to: {pk: {"filed": n} for pk, n in filed.items()},
    )
    report = reports.activity_report(date(2024, 1, 1), date(2024, 3, 31))
    assert [row[0] for row in report.tables[0].rows] == [
        "Абрикосове", "Альфа", "Бета", "Дельта", *(f"Місто {n:02}" for n in range(14))
    ]  # fmt: skip
    # the most petitions first, equal counts by name; 18 cities filed some, 15 are drawn
    assert [(bar.label, bar.value) for bar in report.chart.bars] == [
        ("Місто 13", 9), ("Абрикосове", 5), ("Альфа", 5), ("Дельта", 5), ("Бета", 2),
        *((f"Місто {n:02}", 1) for n in range(10)),
    ]  # fmt: skip


def test_activity_report_without_any_service_lists_the_members_alone(
    director_client, world, monkeypatch
):
    monkeypatch.setattr("opencity.reports.activity_sources", lambda: ())
    report = reports.activity_report(date(2024, 1, 1), date(2024, 3, 31))
    (table,) = report.tables
    assert table.rows == [["Альфа", "Волинська"], ["Бета", "Рівненська"]]
    assert len(table.columns) == 2 and report.chart is None
    response = director_client.get(reverse("members:report", args=["activity"]), Q1)
    assert [row[0][2] for row in _table(response)["tbody"]] == ["Альфа", "Бета"]
    assert "<svg" not in response.content.decode()


def test_table_cells_localised_aligned_and_escaped():
    table = reports.Table(
        title="t",
        columns=[
            reports.Column("Назва"), reports.Column("Рік"), reports.Column("К-сть", reports.INT),
            reports.Column("Частка", reports.DECIMAL), reports.Column("Сума", reports.MONEY),
            reports.Column("Дата", reports.DATE), reports.Column("Ще", reports.INT),
            reports.Column("Без дати", reports.DATE),
        ],
        rows=[],
    )  # fmt: skip
    rows = [
        ["<i>A&B</i>", 2024, 1234567, Decimal("12.5"), Decimal("1234.5"), date(2024, 2, 1), None,
         None],
        ["Б", "", 0, 3, Decimal("0"), "", "", None],
    ]  # fmt: skip
    with translation.override("uk"):
        html = report_formats.rows_html(table, rows)
    assert html == (
        '<tr><th scope="row">&lt;i&gt;A&amp;B&lt;/i&gt;</th><td>2024</td>'
        '<td class="num">1\xa0234\xa0567</td><td class="num">12,5</td>'
        '<td class="num">1\xa0234,50</td><td class="num">01.02.2024</td><td class="num"></td>'
        '<td class="num">—</td></tr>\n'
        '<tr><th scope="row">Б</th><td></td><td class="num">0</td><td class="num">3</td>'
        '<td class="num">0,00</td><td class="num">—</td><td class="num"></td>'
        '<td class="num">—</td></tr>\n'
    )
    counts = reports.Table(
        "t", [reports.Column("Рядок")] + [reports.Column("", reports.INT)] * 4, []
    )
    assert report_formats.head_html(counts) == (
        '<th scope="col">Рядок</th>' + '<th scope="col" class="num"></th>' * 4
    )
    with translation.override("uk"):  # thousands are grouped, smaller counts need no group
        assert report_formats.cells_html(counts, ["к", 999, -999, 1000, -1000]) == (
            '<th scope="row">к</th><td class="num">999</td><td class="num">-999</td>'
            '<td class="num">1\xa0000</td><td class="num">-1\xa0000</td>'
        )
    with translation.override("en"):
        assert report_formats.cells_html(table, rows[0]) == (
            '<th scope="row">&lt;i&gt;A&amp;B&lt;/i&gt;</th><td>2024</td>'
            '<td class="num">1,234,567</td><td class="num">12.5</td>'
            '<td class="num">1,234.50</td><td class="num">02/01/2024</td><td class="num"></td>'
            '<td class="num">—</td>'
        )


# --- pages and exports -----------------------------------------------------------------------
def test_report_page_has_table_and_accessible_svg_chart(director_client, world):
    response = director_client.get(reverse("members:report", args=["period"]), Q1)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="img"' in body and 'aria-labelledby="chart-title chart-desc"' in body
    assert '<title id="chart-title">' in body and "<table" in body
    assert "<script" not in body.split("<main")[1]
    assert "members/print.css" in body


class _TableCells(HTMLParser):
    """The first report table of a page: per section (thead, tbody, tfoot), its rows as
    (tag, class, text) per cell, as a browser shows them (entities decoded)."""

    def __init__(self):
        super().__init__()
        self.sections, self.section, self.cell, self.done = {}, None, None, False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if tag in ("thead", "tbody", "tfoot"):
            self.section = self.sections.setdefault(tag, [])
        elif tag == "tr" and self.section is not None:
            self.section.append([])
        elif tag in ("th", "td") and self.section is not None:
            self.cell = [tag, dict(attrs).get("class") or "", ""]

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[2] += data

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self.cell is not None:
            self.section[-1].append(tuple(self.cell))
            self.cell = None
        elif tag == "table" and self.sections:
            self.done = True


def _table(response) -> dict:
    parser = _TableCells()
    parser.feed(response.content.decode())
    return parser.sections


def test_report_page_shows_each_cell_formatted_aligned_and_escaped(director_client, dues):
    City = type(dues["c1"])
    City.objects.filter(pk=dues["c1"].pk).update(name_uk="<b>Альфа</b> & Ко")
    response = director_client.get(reverse("members:report", args=["dues"]))
    body = response.content.decode()
    assert "<b>Альфа</b>" not in body and "&lt;b&gt;Альфа&lt;/b&gt; &amp; Ко" in body
    table = _table(response)
    assert [cell[1] for cell in table["thead"][0]] == ["", "", "num", "num", "num"]
    # a row header, the oblast as text, money in Ukrainian grouping, right-aligned
    assert table["tbody"] == [
        [("th", "", "<b>Альфа</b> & Ко"), ("td", "", "Волинська"), ("td", "num", "25\xa0000,00"),
         ("td", "num", "17\xa0500,50"), ("td", "num", "7\xa0499,50")],
        [("th", "", "Бета"), ("td", "", "Рівненська"), ("td", "num", "45\xa0000,00"),
         ("td", "num", "15\xa0000,25"), ("td", "num", "29\xa0999,75")],
    ]  # fmt: skip
    assert table["tfoot"] == [
        [("th", "", "Разом"), ("td", "", ""), ("td", "num", "70\xa0000,00"),
         ("td", "num", "32\xa0500,75"), ("td", "num", "37\xa0499,25")],
    ]  # fmt: skip


def test_report_page_with_nothing_in_the_period_says_so(director_client, world, monkeypatch):
    monkeypatch.setattr("members.reports._statuses_on", lambda events, on: {})
    for name in ("petitions.selectors.city_activity", "initiatives.selectors.city_activity"):
        monkeypatch.setattr(name, lambda date_from, date_to: {})
    monkeypatch.setattr("academy.selectors.training_stats", lambda **kwargs: {})
    response = director_client.get(reverse("members:report", args=["activity"]), Q1)
    (row,) = _table(response)["tbody"]
    assert row == [("td", "", "За цей період нічого немає.")]
    assert 'colspan="17"' in response.content.decode()


def test_invalid_period_shows_errors_and_no_report(director_client, world):
    url = reverse("members:report", args=["period"])
    response = director_client.get(url, {"date_from": "2024-03-31", "date_to": "2024-01-01"})
    assert response.status_code == 200
    assert response.context["report"] is None
    assert response.context["form"].errors
    response = director_client.get(url, {"date_from": "not a date", "date_to": "2024-01-01"})
    assert response.context["form"].errors["date_from"]
    export = reverse("members:report_export", args=["period", "xlsx"])
    assert director_client.get(export, {"date_from": "x", "date_to": "y"}).status_code == 302


def test_csv_export_of_the_dues_report(director_client, dues):
    response = director_client.get(reverse("members:report_export", args=["dues", "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="dues.csv"' in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["Альфа", "Волинська", "25000.00", "17500.50", "7499.50"]
    assert rows[3][2:] == ["70000.00", "32500.75", "37499.25"]


def test_xlsx_export_of_the_period_report_reads_back(director_client, world):
    response = director_client.get(reverse("members:report_export", args=["period", "xlsx"]), Q1)
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    assert 'filename="period_2024-01-01_2024-03-31.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) == 4
    summary = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert summary[1][1] == 1 and summary[12][1] == 7  # joined, people trained
    joined = list(workbook.worksheets[1].iter_rows(values_only=True))
    assert joined[1][:3] == ("Бета", "Рівненська", datetime(2024, 2, 15))


def test_xlsx_export_of_dues_keeps_money_as_numbers(director_client, dues):
    response = director_client.get(
        reverse("members:report_export", args=["dues", "xlsx"]), {"year": "2024"}
    )
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("Альфа", "Волинська", 10000, 2500.5, 7499.5)
    assert sheet.cell(row=2, column=3).number_format == "#,##0.00"
    assert Decimal(str(rows[-1][4])) == Decimal("37499.25")


def test_xlsx_export_of_activity_keeps_counts_as_whole_numbers(director_client, world):
    url = reverse("members:report_export", args=["activity", "xlsx"])
    sheet = load_workbook(io.BytesIO(director_client.get(url, Q1).content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("Альфа", "Волинська", 5, 4, 2, 1, 2, 1, 0, *NO_PROBLEMS)
    assert all(type(v) is int for v in rows[1][2:10])  # 5, shown as 5 (General), never 5.0
    assert rows[-1][2:9] == (8, 6, 2, 2, 6, 1, 3)
    assert sheet.cell(row=5, column=3).font.b  # the totals row is bold


def test_matrix_exports_carry_every_city_while_the_page_is_paged(director_client, world,
                                                                 monkeypatch):  # fmt: skip
    from members import conf

    monkeypatch.setattr(conf, "REPORT_PAGE_SIZE", 2)
    page = director_client.get(reverse("members:report", args=["eservices"]))
    assert [row[0] for row in _table(page)["tbody"]] == [("th", "", "Альфа"), ("th", "", "Бета")]
    printable = director_client.get(reverse("members:report", args=["eservices"]), {"print": "1"})
    assert [row[0][2] for row in _table(printable)["tbody"]] == ["Альфа", "Бета", "Гамма"]
    assert 'media="all"' in printable.content.decode()
    assert "members/print.js" in printable.content.decode()  # the Print button
    assert "members/print.js" not in page.content.decode()
    response = director_client.get(reverse("members:report_export", args=["eservices", "xlsx"]))
    rows = list(
        load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert len(rows) == 1 + 3 + 1  # header, three cities, totals


def test_membership_csv_has_both_tables(director_client, world):
    response = director_client.get(reverse("members:report_export", args=["membership", "csv"]), Q1)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[2] == ["2024-01", "1", "2", "0", "1"]
    assert ["Волинська", "0", "1", "1", "0"] in rows


# --- performance shape -----------------------------------------------------------------------
def _populate(n):
    product = make_product()
    for k in range(n):
        city = make_city(oblast_uk=f"Область {k % 5}")
        make_member(city, date(2016, 1, 1))
        adopt(city, product, date(2020, 1, 1))
        invoice = _invoice(city, 2024, "1000.00")
        Payment.objects.create(invoice=invoice, amount=Decimal("10.00"), paid_on=date(2024, 2, 1))


def _count_queries(client, url, params):
    # execute_wrapper sees every query, even when a request signal resets the debug log
    queries = []

    def record(execute, sql, params_, many, context):
        queries.append(sql)
        return execute(sql, params_, many, context)

    with connection.execute_wrapper(record):
        assert client.get(url, params).status_code == 200
    return len(queries)


@pytest.mark.parametrize("slug", SLUGS)
def test_query_count_does_not_depend_on_the_number_of_cities(director_client, slug):
    params = (
        {"date_from": "2015-01-01", "date_to": "2024-12-31"}
        if slug in reports.PERIOD_REPORTS
        else {}
    )
    urls = [
        reverse("members:report", args=[slug]),
        reverse("members:report_export", args=[slug, "csv"]),
        reverse("members:report_export", args=[slug, "xlsx"]),
    ]
    _populate(3)
    director_client.get(urls[0], params)  # warm caches (content types, sessions)
    small = [_count_queries(director_client, url, params) for url in urls]
    _populate(27)
    large = [_count_queries(director_client, url, params) for url in urls]
    assert small == large
    assert min(small) >= 4  # session, user, groups, report queries: the count is real


def test_text_cells_never_become_spreadsheet_formulas(director_client, world):
    make_product('=HYPERLINK("http://evil.example","x")', slug="evil")
    xlsx = director_client.get(reverse("members:report_export", args=["eservices", "xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    cell = next(c for c in sheet[1] if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"  # stored as text, not as a formula
    City = type(world["c1"])
    City.objects.filter(pk=world["c1"].pk).update(name_uk="=1+1")
    xlsx = director_client.get(reverse("members:report_export", args=["activity", "xlsx"]), Q1)
    rows = list(load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows())
    assert (rows[1][0].value, rows[1][0].data_type) == ("=1+1", "s")  # a city's name, as text
    assert [c.value for c in rows[1][:3]] == ["=1+1", "Волинська", 5]
    assert [c.value for c in rows[-1][:3]] == ["Разом", None, 8]  # no oblast for the totals
    csv_text = director_client.get(reverse("members:report_export", args=["eservices", "csv"]))
    first_line = csv_text.content.decode("utf-8-sig").splitlines()[0]
    assert "'=HYPERLINK" in first_line


def test_svg_coordinates_are_not_localised_in_ukrainian(director_client, dues):
    url = reverse("members:report", args=["dues"])
    response = director_client.get(url, HTTP_ACCEPT_LANGUAGE="uk")
    assert "Заборгованість" in response.content.decode()
    svg = response.content.decode().split("<svg", 1)[1].split("</svg>", 1)[0]
    numbers = re.findall(r'\s(?:x|y|width|height)="([^"]*)"', svg)
    assert len(numbers) > 6
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", n) for n in numbers), numbers
