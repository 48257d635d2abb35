"""Demo problem reports: Lutsk and Chernivtsi, departments, category trees, reply templates
and a few hundred reports in every status. Idempotent; every change goes through the
services, so the timelines, audit entries and e-mails are real."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from opencity.accounts.models import User
from opencity.cities.models import City
from problems import services
from problems.models import Category, CityArea, Department, ReplyTemplate, Report

LUTSK = "UA07080170000013585"
CHERNIVTSI = "UA73060610000066784"
DEMO = "@demo.opencity.ua"
REPORTS_PER_CITY = 150

AREAS = {
    LUTSK: (50.70, 50.80, 25.24, 25.42),
    CHERNIVTSI: (48.23, 48.35, 25.85, 26.05),
}

# department: (answer days, {parent category: [leaves]})
TREE = {
    "Управління дорожнього господарства": (
        10,
        {"Дороги": ["Ями на дорозі", "Пошкоджений тротуар", "Відсутня розмітка"]},
    ),
    "Відділ зовнішнього освітлення": (5, {"Освітлення": ["Не світить ліхтар", "Обірваний дріт"]}),
    "Управління благоустрою": (
        10,
        {
            "Благоустрій": ["Стихійне звалище", "Зламана лавка", "Аварійне дерево"],
            "Дитячі майданчики": ["Пошкоджене обладнання"],
        },
    ),
}

PLACES = [
    "біля зупинки «Центральний ринок»",
    "навпроти школи № 5",
    "у дворі будинку № 12",
    "на перехресті біля аптеки",
    "поруч із входом до парку",
    "біля під'їзду № 3",
    "на розі біля пошти",
]

TEMPLATES = [
    (
        "Прийнято в роботу",
        "Дякуємо за звернення. Бригаду скеровано, строк виконання — до 10 робочих днів.",
    ),
    ("Виконано", "Роботи виконано. Дякуємо, що допомагаєте робити місто кращим!"),
    (
        "Не належить до компетенції",
        "Ця ділянка перебуває на балансі іншого власника; звернення переслано йому.",
    ),
]


def _city_setup(city: City) -> list[Category]:
    south, north, west, east = AREAS[city.katottg]
    CityArea.objects.get_or_create(
        city=city, defaults={"min_lat": south, "max_lat": north, "min_lon": west, "max_lon": east}
    )
    for title, text in TEMPLATES:
        ReplyTemplate.objects.get_or_create(city=city, title=title, defaults={"text": text})
    leaves = []
    position = 0
    for department_name, (days, parents) in TREE.items():
        department, _ = Department.objects.get_or_create(
            city=city, name_uk=department_name, defaults={"answer_working_days": days}
        )
        for parent_name, children in parents.items():
            position += 1
            parent, _ = Category.objects.get_or_create(
                city=city, parent=None, name_uk=parent_name, defaults={"position": position}
            )
            for child_name in children:
                leaf, _ = Category.objects.get_or_create(
                    city=city,
                    parent=parent,
                    name_uk=child_name,
                    defaults={"department": department},
                )
                leaves.append(leaf)
    return leaves


def seed(log) -> None:
    cities = City.objects.in_bulk([LUTSK, CHERNIVTSI], field_name="katottg")
    people = {u.email.split("@")[0]: u for u in User.objects.filter(email__endswith=DEMO)}
    if len(cities) < 2 or "citizen" not in people:
        log("problems: demo people or cities missing; skipped")
        return
    citizens = [people[k] for k in sorted(people) if k.startswith("citizen")]
    clerks = {LUTSK: people["clerk.lutsk"], CHERNIVTSI: people["clerk.chernivtsi"]}
    rng = random.Random(311)  # the same demo every time
    created = 0
    for code, city in cities.items():
        leaves = _city_setup(city)
        if Report.objects.filter(city=city, reporter__email__endswith=DEMO).exists():
            continue
        south, north, west, east = AREAS[code]
        now = timezone.now()
        for i in range(REPORTS_PER_CITY):
            category = rng.choice(leaves)
            place = rng.choice(PLACES)
            with_point = rng.random() < 0.85
            report = services.report_file(
                data=services.NewReport(
                    city=city,
                    category=category,
                    title=f"{category.name_uk} {place}",
                    description=f"Проблема «{category.name_uk.lower()}» {place}. "
                    "Просимо усунути якнайшвидше.",
                    lat=rng.uniform(south, north) if with_point else None,
                    lon=rng.uniform(west, east) if with_point else None,
                    address="" if with_point else f"{place} (№ {i + 1})",
                    show_name=rng.random() < 0.4,
                ),
                reporter=rng.choice(citizens),
            )
            filed = now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1440))
            Report.objects.filter(pk=report.pk).update(
                created_at=filed, answer_due=services.answer_due_for(category, filed)
            )
            report.refresh_from_db()
            _advance(report, clerks[code], rng)
            for supporter in rng.sample(citizens, rng.randint(0, 3)):
                if report.is_open:
                    services.report_support(report=report, user=supporter)
            created += 1
    log(f"problems: {created} demo reports added")


def _advance(report: Report, clerk, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.25:
        return  # new
    accept = TEMPLATES[0][1]
    if roll < 0.9:
        services.staff_set_status(report=report, actor=clerk, to="accepted", reply=accept)
    if roll < 0.45:
        return
    if roll < 0.6:
        services.staff_set_status(report=report, actor=clerk, to="in_progress")
        return
    if roll < 0.85:
        services.staff_set_status(report=report, actor=clerk, to="done", reply=TEMPLATES[1][1])
        return
    if roll < 0.9:
        original = (
            Report.objects.filter(city=report.city, status__in=Report.OPEN_STATUSES)
            .exclude(pk=report.pk)
            .first()
        )
        if original is not None:
            services.staff_set_status(
                report=report, actor=clerk, to="duplicate", duplicate_of=original
            )
        return
    services.staff_set_status(report=report, actor=clerk, to="rejected", reason=TEMPLATES[2][1])
