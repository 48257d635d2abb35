"""A questionnaire with every question type, a condition and a matrix, and a wave."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from members.models import CityContact, EProduct, MembershipEvent
from members.surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Wave,
)

K = Question.Kind


def make_member(city, email: str | None = None):
    MembershipEvent.objects.create(
        city=city, status="member", effective_on=date(2020, 1, 1), decided_by="board"
    )
    if email != "":  # "" = a member without a contact e-mail
        CityContact.objects.create(city=city, email=email or f"rada-{city.slug}@example.org")
    return city


def make_products():
    return [
        EProduct.objects.get_or_create(
            slug=slug, defaults={"name": name, "category": EProduct.Category.E_DEMOCRACY}
        )[0]
        for slug, name in (("e-petitions", "E-petitions"), ("e-budget", "Participatory budget"))
    ]


def make_questionnaire() -> QuestionnaireVersion:
    """Questions by code: obstacles (multiple + other), has_edms (yes/no) → edms_name (short
    text, shown only after "yes"), staff (number 0–500, required), readiness (scale 1–5),
    level (single), comment (long text), services (matrix)."""
    make_products()
    questionnaire = Questionnaire.objects.create(
        title_uk="Стан електронного врядування", title_en="State of e-government", slug="egov"
    )
    version = QuestionnaireVersion.objects.create(questionnaire=questionnaire, number=1)
    first = Section.objects.create(
        version=version, order=1, title_uk="Перешкоди", title_en="Obstacles"
    )
    second = Section.objects.create(
        version=version, order=2, title_uk="Послуги", title_en="Services"
    )

    def q(section, order, code, kind, text_en, **extra):
        return Question.objects.create(
            section=section,
            order=order,
            code=code,
            kind=kind,
            text_uk=f"Питання {code}",
            text_en=text_en,
            **extra,
        )

    obstacles = q(first, 1, "obstacles", K.MULTIPLE, "What holds you back?", allow_other=True)
    for n, (value, label) in enumerate((("cost", "Costly software"), ("staff", "No staff"))):
        Choice.objects.create(
            question=obstacles, order=n, value=value, label_uk=label, label_en=label
        )
    has_edms = q(first, 2, "has_edms", K.YES_NO, "Do you run document management?", required=True)
    q(
        first,
        3,
        "edms_name",
        K.SHORT_TEXT,
        "Which system?",
        required=True,
        show_if_question=has_edms,
        show_if_value="yes",
    )
    q(
        first,
        4,
        "staff",
        K.NUMBER,
        "How many staff work on IT?",
        required=True,
        min_value=0,
        max_value=500,
    )
    q(first, 5, "readiness", K.SCALE, "How ready are residents?", min_value=1, max_value=5)
    level = q(first, 6, "level", K.SINGLE, "Who leads e-government?")
    for n, value in enumerate(("mayor", "secretary")):
        Choice.objects.create(
            question=level, order=n, value=value, label_uk=value, label_en=value.title()
        )
    q(first, 7, "comment", K.LONG_TEXT, "Anything else?")
    q(second, 1, "services", K.MATRIX, "Which e-services do you run?")
    return version


def make_wave(version, *, audience="members", value="", name="2025", opens_on=None) -> Wave:
    opens_on = opens_on or timezone.localdate()
    return Wave.objects.create(
        version=version,
        name=name,
        audience=audience,
        audience_value=value,
        opens_on=opens_on,
        closes_on=opens_on + timedelta(days=30),
    )


def question(version, code) -> Question:
    return Question.objects.get(section__version=version, code=code)


def form_data(version, **answers) -> dict:
    """POST data from {code: value}; matrix as services={product_slug: (status, since)}."""
    data = {}
    for code, value in answers.items():
        if code.endswith("__other"):
            data[f"q{question(version, code[:-7]).pk}_other"] = value
            continue
        qn = question(version, code)
        if qn.kind == K.MATRIX:
            for slug, (status, since) in value.items():
                pid = EProduct.objects.get(slug=slug).pk
                data[f"q{qn.pk}_{pid}"] = status
                if since:
                    data[f"q{qn.pk}_{pid}_since"] = str(since)
        else:
            data[f"q{qn.pk}"] = value
    return data
