"""What directors read: response rates, each question's distribution, the e-services
matrix, free-text answers and the two-wave comparison.

Every builder sums the wave's pre-counted rows (counting.py, models.ResultCount) in a fixed
number of small queries whatever the number of councils and questions, and returns a
`Report` (members.reports) that the page, CSV and XLSX all render from, plus per-question
blocks for the page's charts."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Max, Min, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext as _

from members.models import EProduct
from members.reports import DECIMAL, INT, Bar, Chart, Column, Report, Table
from members.surveys import conf, counting
from members.surveys.models import Answer, MatrixAnswer, Question, Response, ResultCount, Wave
from members.surveys.services import tier_q

DISCRETE = (Question.Kind.SINGLE, Question.Kind.YES_NO, Question.Kind.SCALE)
STATUSES = [s for s, _l in MatrixAnswer.Status.choices]


@dataclass
class Filters:
    oblast: str = ""
    tier: str = ""
    size: str = ""

    def q(self, prefix: str) -> Q:
        q = Q()
        if self.oblast:
            q &= Q(**{f"{prefix}oblast_uk": self.oblast})
        if self.tier:
            q &= tier_q(self.tier, prefix)
        if self.size:
            for code, low, high in conf.SIZES:
                if code == self.size:
                    q &= Q(**{f"{prefix}population__gte": low})
                    if high is not None:
                        q &= Q(**{f"{prefix}population__lt": high})
        return q

    def counted(self) -> Q:
        """The same councils among the pre-counted groups (models.ResultCount)."""
        wanted = {"oblast": self.oblast, "tier": self.tier, "size": self.size}
        return Q(**{k: v for k, v in wanted.items() if v})

    def params(self) -> dict:
        return {"oblast": self.oblast, "tier": self.tier, "size": self.size}


@dataclass
class QuestionBlock:
    question: Question
    table: Table
    chart: Chart | None = None
    texts: list[tuple[str, str]] = field(default_factory=list)  # (council, text) on screen
    text_total: int = 0


@dataclass
class Results:
    report: Report
    respondents: int
    blocks: list[QuestionBlock]
    matrix: dict[int, list[dict]]  # question → heat-map rows: product, [(count, share, level)]


def pct(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _mean(row: dict | None) -> Decimal | None:
    return row["mean"].quantize(Decimal("0.1"), ROUND_HALF_UP) if row else None


def _questions(wave: Wave) -> list[Question]:
    return list(
        Question.objects.filter(section__version_id=wave.version_id)
        .prefetch_related("choices")
        .order_by("section__order", "section_id", "order", "id")
    )


def _labels(q: Question) -> list[tuple[str, str]]:
    if q.kind == Question.Kind.YES_NO:
        return [("yes", _("Yes")), ("no", _("No"))]
    if q.kind == Question.Kind.SCALE:
        return [(str(v), str(v)) for v in range(q.min_value, q.max_value + 1)]
    return q.options(_("Other"))


def _response_rate(groups: list[tuple[str, str, str, int]]) -> list[Table]:
    """The two response-rate tables from the counted (measure, oblast, tier, councils)."""
    by_oblast: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_tier: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for measure, oblast, tier, n in groups:
        column = 0 if measure == "invited" else 1
        by_oblast[oblast][column] += n
        by_tier[tier][column] += n
    columns = [
        Column(_("Invited"), INT),
        Column(_("Answered"), INT),
        Column(_("Response rate, %"), DECIMAL),
    ]

    def table(title: str, first: str, groups: dict, order: list[str], label) -> Table:
        body = [
            [label(k), *groups[k], pct(groups[k][1], groups[k][0])] for k in order if k in groups
        ]
        inv = sum(v[0] for v in groups.values())
        ans = sum(v[1] for v in groups.values())
        return Table(title, [Column(first), *columns], body, [_("Total"), inv, ans, pct(ans, inv)])

    return [
        table(_("Response rate by oblast"), _("Oblast"), by_oblast, sorted(by_oblast), str),
        table(
            _("Response rate by tier"),
            _("Tier"),
            by_tier,
            [t for t, _l in conf.TIERS],
            lambda t: str(conf.TIER_LABELS[t]),
        ),
    ]


@dataclass
class _Figures:
    respondents: int
    discrete: dict[int, Counter]
    numbers: dict[int, dict]
    matrix: dict[int, dict[int, Counter]]
    texts: dict[int, list[tuple[str, str]]]
    text_totals: Counter
    rates: list[tuple[str, str, str, int]]


def _figures(wave: Wave, questions: list[Question], filters: Filters, text_limit: int | None):
    """The wave's figures among the councils that pass `filters`, summed from its pre-counted
    rows (counting.results_count; counted now if never counted): two small GROUP BY queries,
    plus one for the free text listed."""
    counting.ensure_counted(wave)
    counted = ResultCount.objects.filter(filters.counted(), wave=wave)
    rates = list(
        counted.filter(question__isnull=True)
        .values_list("value", "oblast", "tier")
        .annotate(councils=Sum("n"))
        .order_by()
    )
    respondents = sum(n for measure, _o, _t, n in rates if measure == "answered")
    kinds = {q.pk: q.kind for q in questions}
    discrete: dict[int, Counter] = defaultdict(Counter)
    text_totals: Counter = Counter()
    numbers: dict[int, dict] = {}
    matrix: dict[int, dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
    rows = (
        counted.filter(question__isnull=False)
        .values_list("question_id", "product_id", "value")
        .annotate(councils=Sum("n"), total=Sum("total"), low=Min("low"), high=Max("high"))
        .order_by()
    )
    for qid, product, value, n, total, low, high in rows:
        kind = kinds.get(qid)
        if kind == Question.Kind.MATRIX:
            matrix[qid][product][value] += n
        elif kind == Question.Kind.NUMBER:
            numbers[qid] = {
                "n": n,
                "total": total,
                "low": low,
                "high": high,
                "mean": Decimal(total) / n,
            }
        elif kind in Question.TEXT_KINDS:
            text_totals[qid] += n
        else:
            discrete[qid][value] += n
    texts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if text_limit != 0:
        text_questions = [pk for pk, k in kinds.items() if k in Question.TEXT_KINDS]
        listed = Answer.objects.filter(
            filters.q("response__city__"),
            Q(question_id__in=text_questions, text__gt="") | ~Q(other_text=""),
            response__wave=wave,
            response__status=Response.Status.SUBMITTED,
        ).annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("question_id")],
                order_by=[F("response__city__name_uk").asc()],
            )
        )
        if text_limit is not None:
            listed = listed.filter(rank__lte=text_limit)
        for qid, city, text, other in listed.values_list(
            "question_id", "response__city__name_uk", "text", "other_text"
        ).order_by("question_id", "rank"):
            texts[qid].append((city, text or other))
    return _Figures(respondents, discrete, numbers, matrix, texts, text_totals, rates)


def wave_results(wave: Wave, filters: Filters, *, text_limit: int | None) -> Results:
    """The whole results of a wave among the councils that pass `filters`. `text_limit`
    caps the free-text answers per question (the page); None lists all (the exports)."""
    questions = _questions(wave)
    figures = _figures(wave, questions, filters, text_limit)
    products = {p.pk: p.name for p in EProduct.objects.only("pk", "name")}
    tables = _response_rate(figures.rates)
    blocks: list[QuestionBlock] = []
    heat: dict[int, list[dict]] = {}
    for q in questions:
        title = f"{q.code}. {q.text}"
        if q.kind in DISCRETE or q.kind == Question.Kind.MULTIPLE:
            counts = figures.discrete.get(q.pk, Counter())
            answered = sum(counts.values()) if q.kind != Question.Kind.MULTIPLE else None
            rows = [
                [label, counts.get(value, 0), pct(counts.get(value, 0), figures.respondents)]
                for value, label in _labels(q)
            ]
            table = Table(
                title,
                [
                    Column(_("Answer")),
                    Column(_("Councils"), INT),
                    Column(_("Share of respondents, %"), DECIMAL),
                ],
                rows,
                [_("Answered"), answered, None] if answered is not None else None,
            )
            chart = Chart(
                q.text,
                _("Councils per answer."),
                [Bar(r[0], r[1]) for r in rows],
                table_title=title,
            )
            block = QuestionBlock(q, table, chart)
            if q.allow_other:
                block.texts = figures.texts.get(q.pk, [])
        elif q.kind == Question.Kind.NUMBER:
            row = figures.numbers.get(q.pk)
            mean = _mean(row)
            table = Table(
                title,
                [Column(_("Figure")), Column(_("Value"), DECIMAL)],
                [
                    [_("Answered"), row["n"] if row else 0],
                    [_("Lowest"), row["low"] if row else None],
                    [_("Average"), mean],
                    [_("Highest"), row["high"] if row else None],
                ],
            )
            block = QuestionBlock(q, table)
        elif q.kind in Question.TEXT_KINDS:
            texts = figures.texts.get(q.pk, [])
            table = Table(
                title, [Column(_("Council")), Column(_("Answer"))], [list(t) for t in texts]
            )
            block = QuestionBlock(q, table, texts=texts, text_total=figures.text_totals[q.pk])
        else:  # matrix
            per_product = figures.matrix.get(q.pk, {})
            rows = []
            for pid, pname in sorted(products.items(), key=lambda kv: kv[1]):
                counts = per_product.get(pid, Counter())
                total = sum(counts.values())
                rows.append(
                    [
                        pname,
                        *[counts.get(s, 0) for s in STATUSES],
                        *[pct(counts.get(s, 0), total) for s in STATUSES],
                    ]
                )
                heat.setdefault(q.pk, []).append(
                    {
                        "product": pname,
                        "cells": [
                            (
                                counts.get(s, 0),
                                pct(counts.get(s, 0), total),
                                min(5, int(pct(counts.get(s, 0), total) // 20)),
                            )
                            for s in STATUSES
                        ],
                    }
                )
            labels = [str(lbl) for _s, lbl in MatrixAnswer.Status.choices]
            table = Table(
                title,
                [
                    Column(_("E-product")),
                    *[Column(lbl, INT) for lbl in labels],
                    *[Column(f"{lbl}, %", DECIMAL) for lbl in labels],
                ],
                rows,
            )
            block = QuestionBlock(q, table)
        blocks.append(block)
        tables.append(block.table)
    report = Report(
        slug=f"survey_{wave.pk}", title=str(wave), tables=tables, params=filters.params()
    )
    return Results(report, figures.respondents, blocks, heat)


def comparison(wave_a: Wave, wave_b: Wave, filters: Filters) -> Report:
    """What changed between two waves, per question matched by its code: the share of
    respondents per answer (discrete and multiple), the average (numbers), the share that
    runs each e-product (matrix); change in percentage points."""
    qa, qb = _questions(wave_a), _questions(wave_b)
    fa = _figures(wave_a, qa, filters, text_limit=0)
    fb = _figures(wave_b, qb, filters, text_limit=0)
    by_code_b = {q.code: q for q in qb}
    products = {p.pk: p.name for p in EProduct.objects.only("pk", "name")}
    columns = [
        Column(_("Question")),
        Column(_("Answer")),
        Column(str(wave_a.name) + ", %", DECIMAL),
        Column(str(wave_b.name) + ", %", DECIMAL),
        Column(_("Change, p.p."), DECIMAL),
    ]
    rows: list[list] = [[_("Councils answered"), "", fa.respondents, fb.respondents, None]]
    for q in qa:
        other = by_code_b.get(q.code)
        if other is None or other.kind != q.kind:
            continue
        if q.kind in DISCRETE or q.kind == Question.Kind.MULTIPLE:
            ca, cb = fa.discrete.get(q.pk, Counter()), fb.discrete.get(other.pk, Counter())
            for value, label in _labels(q):
                a, b = pct(ca.get(value, 0), fa.respondents), pct(cb.get(value, 0), fb.respondents)
                rows.append([q.code, label, a, b, b - a])
        elif q.kind == Question.Kind.NUMBER:
            na, nb = fa.numbers.get(q.pk), fb.numbers.get(other.pk)
            a, b = _mean(na), _mean(nb)
            rows.append(
                [q.code, _("Average"), a, b, (b - a) if a is not None and b is not None else None]
            )
        elif q.kind == Question.Kind.MATRIX:
            ma, mb = fa.matrix.get(q.pk, {}), fb.matrix.get(other.pk, {})
            for pid, pname in sorted(products.items(), key=lambda kv: kv[1]):
                a = pct(ma.get(pid, Counter()).get("runs", 0), fa.respondents)
                b = pct(mb.get(pid, Counter()).get("runs", 0), fb.respondents)
                rows.append([q.code, _("runs %(product)s") % {"product": pname}, a, b, b - a])
    title = _("%(a)s compared with %(b)s") % {"a": wave_a, "b": wave_b.name}
    return Report(
        slug=f"survey_{wave_a.pk}_vs_{wave_b.pk}",
        title=title,
        tables=[Table(title, columns, rows)],
        params=filters.params(),
    )


def export_report(results: Results) -> Report:
    """The wave's results for CSV/XLSX: the two response-rate tables, then one long table per
    kind of question (a sheet per question would be 60 sheets), every free text included."""
    rates = results.report.tables[:2]
    choice_rows, number_rows, matrix_rows, text_rows = [], [], [], []
    for block in results.blocks:
        q = block.question
        if q.kind in Question.TEXT_KINDS:
            text_rows += [[q.code, city, text] for city, text in block.texts]
        elif q.kind == Question.Kind.NUMBER:
            number_rows.append([q.code, *[row[1] for row in block.table.rows]])
        elif q.kind == Question.Kind.MATRIX:
            matrix_rows += [[q.code, *row] for row in block.table.rows]
        else:
            choice_rows += [[q.code, *row] for row in block.table.rows]
            text_rows += [[q.code, city, text] for city, text in block.texts]
    code = Column(_("Question"))
    labels = [str(lbl) for _s, lbl in MatrixAnswer.Status.choices]
    tables = [
        *rates,
        Table(
            _("Answers"),
            [
                code,
                Column(_("Answer")),
                Column(_("Councils"), INT),
                Column(_("Share of respondents, %"), DECIMAL),
            ],
            choice_rows,
        ),
        Table(
            _("Numbers"),
            [
                code,
                Column(_("Answered"), INT),
                Column(_("Lowest"), INT),
                Column(_("Average"), DECIMAL),
                Column(_("Highest"), INT),
            ],
            number_rows,
        ),
        Table(
            _("E-services"),
            [
                code,
                Column(_("E-product")),
                *[Column(lbl, INT) for lbl in labels],
                *[Column(f"{lbl}, %", DECIMAL) for lbl in labels],
            ],
            matrix_rows,
        ),
        Table(_("Free-text answers"), [code, Column(_("Council")), Column(_("Answer"))], text_rows),
    ]
    return Report(
        slug=results.report.slug,
        title=results.report.title,
        tables=tables,
        params=results.report.params,
    )
