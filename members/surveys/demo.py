"""Demo and benchmark data: a questionnaire modelled on the association's 324-council
e-government survey (the six obstacles, a matrix over the catalogue's e-products) and
generated answers. Answers are random but seeded, so a demo looks the same every time."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from members.models import EProduct
from members.surveys import counting
from members.surveys.models import (
    OTHER,
    Answer,
    Choice,
    Invitation,
    MatrixAnswer,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    Section,
    Wave,
)
from opencity.cities.models import City

K = Question.Kind
SLUG = "egov-survey"
OBSTACLES = [
    ("software_cost", "Висока вартість програмного забезпечення", "Costly software"),
    ("no_edms", "Немає системи електронного документообігу", "No document management"),
    ("residents", "Мешканці не готові", "Residents are not ready"),
    ("no_exchange", "Немає обміну даними між системами", "No data exchange between systems"),
    (
        "no_info",
        "Немає достовірної інформації про стан е-урядування",
        "No reliable information on the state of e-government",
    ),
    ("no_staff", "Бракує фахівців", "No staff"),
]
LEADERS = [
    ("mayor", "Голова громади", "The head of the hromada"),
    ("secretary", "Секретар ради", "The council secretary"),
    ("it", "ІТ-відділ", "The IT department"),
]
EDMS = ["АСКОД", "Мегаполіс", "Доккомпліт", "Вчасно", "FossDoc"]
COMMENTS = [
    "Потрібне навчання працівників ЦНАП.",
    "Не вистачає коштів на ліцензії.",
    "Хочемо приєднатися до громадського бюджету наступного року.",
    "Інтернет у старостатах повільний.",
    "Просимо типові рішення від асоціації.",
]


def _q(section, order, code, kind, uk, en, **extra) -> Question:
    return Question.objects.create(
        section=section, order=order, code=code, kind=kind, text_uk=uk, text_en=en, **extra
    )


def _choices(question: Question, rows: Sequence[tuple[str, str, str]]) -> None:
    Choice.objects.bulk_create(
        Choice(question=question, order=n, value=v, label_uk=uk, label_en=en)
        for n, (v, uk, en) in enumerate(rows)
    )


def build_questionnaire(*, extra_questions: int = 0) -> QuestionnaireVersion:
    """The e-government questionnaire (11 questions); `extra_questions` more for the bench."""
    questionnaire = Questionnaire.objects.create(
        title_uk="Стан електронного врядування в громадах",
        title_en="State of e-government in the hromadas",
        slug=SLUG if not extra_questions else f"{SLUG}-{extra_questions}",
    )
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=1,
        intro_uk="Асоціація вивчає, як громади запроваджують електронне врядування.",
        intro_en="The association studies how hromadas adopt e-government.",
    )
    general = Section.objects.create(
        version=version, order=1, title_uk="Загальне", title_en="General"
    )
    has_strategy = _q(
        general,
        1,
        "has_strategy",
        K.YES_NO,
        "Чи має громада програму розвитку е-урядування?",
        "Does the hromada have an e-government programme?",
        required=True,
    )
    _q(
        general,
        2,
        "strategy_year",
        K.NUMBER,
        "З якого року діє програма?",
        "Since which year has the programme been in force?",
        min_value=2010,
        max_value=2030,
        show_if_question=has_strategy,
        show_if_value="yes",
        required=True,
    )
    _q(
        general,
        3,
        "it_staff",
        K.NUMBER,
        "Скільки працівників займаються ІТ?",
        "How many staff work on IT?",
        min_value=0,
        max_value=500,
        required=True,
    )
    _q(
        general,
        4,
        "readiness",
        K.SCALE,
        "Наскільки мешканці готові до е-послуг (1–5)?",
        "How ready are residents for e-services (1–5)?",
        min_value=1,
        max_value=5,
    )
    leader = _q(
        general,
        5,
        "leader",
        K.SINGLE,
        "Хто відповідає за е-урядування?",
        "Who is responsible for e-government?",
        allow_other=True,
    )
    _choices(leader, LEADERS)
    hurdles = Section.objects.create(
        version=version, order=2, title_uk="Перешкоди", title_en="Obstacles"
    )
    obstacles = _q(
        hurdles,
        1,
        "obstacles",
        K.MULTIPLE,
        "Що заважає розвитку е-урядування?",
        "What holds e-government back?",
        allow_other=True,
        required=True,
    )
    _choices(obstacles, OBSTACLES)
    main = _q(
        hurdles,
        2,
        "main_obstacle",
        K.SINGLE,
        "Яка перешкода головна?",
        "Which obstacle is the main one?",
    )
    _choices(main, OBSTACLES)
    _q(
        hurdles,
        3,
        "comment",
        K.LONG_TEXT,
        "Що ще варто знати асоціації?",
        "What else should the association know?",
    )
    services = Section.objects.create(
        version=version, order=3, title_uk="Електронні послуги", title_en="E-services"
    )
    _q(
        services,
        1,
        "services",
        K.MATRIX,
        "Які електронні сервіси працюють у громаді?",
        "Which e-services does the hromada run?",
    )
    edms = _q(
        services,
        2,
        "has_edms",
        K.YES_NO,
        "Чи є система електронного документообігу?",
        "Is there an electronic document management system?",
        required=True,
    )
    _q(
        services,
        3,
        "edms_name",
        K.SHORT_TEXT,
        "Яка саме?",
        "Which one?",
        show_if_question=edms,
        show_if_value="yes",
    )
    kinds = [K.YES_NO, K.SCALE, K.NUMBER, K.SINGLE, K.MULTIPLE, K.SHORT_TEXT]
    if extra_questions:
        more = Section.objects.create(
            version=version, order=4, title_uk="Додатково", title_en="More"
        )
        for n in range(extra_questions):
            kind = kinds[n % len(kinds)]
            extra = {"min_value": 1, "max_value": 5} if kind == K.SCALE else {}
            if kind == K.NUMBER:
                extra = {"min_value": 0, "max_value": 1000}
            q = _q(
                more,
                n,
                f"extra_{n}",
                kind,
                f"Додаткове питання {n}",
                f"Extra question {n}",
                **extra,
            )
            if kind in (K.SINGLE, K.MULTIPLE):
                _choices(q, [(f"o{k}", f"Варіант {k}", f"Option {k}") for k in range(5)])
    return version


def _answer(rng: random.Random, q: Question, values: list[str], state: dict):
    """(Answer fields or None, matrix rows) for one question, honouring its condition."""
    if q.show_if_question_id and state.get(q.show_if_question_id) != q.show_if_value:
        return None
    if q.kind == K.YES_NO:
        value = "yes" if rng.random() < 0.55 else "no"
        state[q.pk] = value
        return {"choice": value}
    if q.kind == K.SCALE:
        return {"choice": str(rng.randint(q.min_value, q.max_value))}
    if q.kind == K.NUMBER:
        top = min(q.max_value, q.min_value + 40 if q.min_value >= 2000 else 60)
        return {"number": rng.randint(q.min_value, top)}
    if q.kind == K.SINGLE:
        return {"choice": rng.choice(values)}
    if q.kind == K.MULTIPLE:
        picked = sorted(rng.sample(values, rng.randint(1, min(3, len(values)))))
        other = ""
        if q.allow_other and rng.random() < 0.05:
            picked.append(OTHER)
            other = "Війна та відключення світла"
        return {"choices": picked, "other_text": other}
    if q.kind == K.SHORT_TEXT:
        return {"text": rng.choice(EDMS)}
    if q.kind == K.LONG_TEXT:
        return {"text": rng.choice(COMMENTS)} if rng.random() < 0.3 else None
    return None


def answer_wave(
    wave: Wave, cities: Sequence[City], rng: random.Random, *, answered: int, opened: date
) -> int:
    """Invitations for `cities` (recorded as sent on `opened`, no e-mail: historical data)
    and submitted responses from the first `answered`. Bulk inserts; returns responses."""
    questions = list(
        Question.objects.filter(section__version=wave.version)
        .prefetch_related("choices")
        .order_by("section__order", "order")
    )
    values = {q.pk: [c.value for c in q.choices.all()] for q in questions}
    products = list(EProduct.objects.values_list("pk", flat=True))
    sent = timezone.make_aware(timezone.datetime.combine(opened, timezone.datetime.min.time()))
    Invitation.objects.bulk_create(
        Invitation(
            wave=wave,
            city=c,
            email=f"rada-{c.pk}@example.org",
            nonce=f"demo{c.pk}",
            sent_at=sent,
            reminded_7_at=sent + timedelta(days=7),
        )
        for c in cities
    )
    responses = Response.objects.bulk_create(
        Response(
            wave=wave,
            city=c,
            version_id=wave.version_id,
            status="submitted",
            submitted_at=sent + timedelta(days=rng.randint(0, 20)),
            respondent="Секретар ради",
        )
        for c in cities[:answered]
    )
    answers: list[Answer] = []
    matrix: list[MatrixAnswer] = []
    for response in responses:
        state: dict = {}
        for q in questions:
            if q.kind == K.MATRIX:
                for pid in products:
                    roll = rng.random()
                    status = "runs" if roll < 0.35 else "plans" if roll < 0.6 else "no"
                    since = rng.randint(2015, opened.year) if status == "runs" else None
                    matrix.append(
                        MatrixAnswer(
                            response=response,
                            question=q,
                            product_id=pid,
                            status=status,
                            since_year=since,
                        )
                    )
                continue
            fields = _answer(rng, q, values[q.pk], state)
            if fields is not None:
                answers.append(Answer(response=response, question=q, **fields))
    Answer.objects.bulk_create(answers, batch_size=5000)
    MatrixAnswer.objects.bulk_create(matrix, batch_size=5000)
    counting.request_count_on_commit(wave.pk)
    return len(responses)


@transaction.atomic
def seed(log: Callable[[str], None]) -> None:
    """The demo questionnaire and its 2025 wave: 324 answers out of 400 hromadas invited."""
    if Questionnaire.objects.filter(slug=SLUG).exists():
        return
    version = build_questionnaire()
    today = timezone.localdate()
    opened = today - timedelta(days=40)
    wave = Wave.objects.create(
        version=version,
        name=str(opened.year),
        audience="members",
        opens_on=opened,
        closes_on=today + timedelta(days=20),
        sent_at=timezone.now() - timedelta(days=40),
    )
    rng = random.Random(324)
    cities = list(City.objects.order_by("pk"))
    rng.shuffle(cities)
    answered = answer_wave(wave, cities[:400], rng, answered=324, opened=opened)
    log(f"council survey: {answered} answers in wave {wave.name}")
