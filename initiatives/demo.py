"""Demo public budgets for Lutsk (voting now) and Chernivtsi (last year: funded and built).

Idempotent: a programme that already exists (by slug) is left as it is.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from initiatives.models import (
    Ballot,
    Category,
    CostLine,
    District,
    ImplementationUpdate,
    Initiative,
    Programme,
    Vote,
)
from initiatives.services import tally_programme
from opencity.accounts.models import User
from opencity.cities.models import City

LUTSK = "UA07080170000013585"
CHERNIVTSI = "UA73060610000066784"

LUTSK_PROJECTS = [
    # title, summary, category, district, address, (lat, lon), cost lines
    (
        "Сквер біля бібліотеки імені Лесі Українки",
        "Лавки, ліхтарі та тінь для читачів.",
        0,
        "Центр",
        "вул. Винниченка, 1",
        ("50.747233", "25.325383"),
        [
            ("Лавки (10 шт.)", "85000"),
            ("Ліхтарі на сонячних панелях", "120000"),
            ("Висадка дерев", "45000"),
        ],
    ),
    (
        "Безпечний перехід біля школи № 5",
        "Острівець безпеки і підсвічування переходу.",
        0,
        "Гнідава",
        "вул. Ковельська, 41",
        None,
        [("Острівець безпеки", "160000"), ("Підсвічування переходу", "95000")],
    ),
    (
        "Вуличні тренажери на Набережній",
        "Спортмайданчик просто неба для всіх віків.",
        0,
        "Центр",
        "вул. Набережна, 4",
        ("50.741100", "25.330200"),
        [("Комплекс тренажерів", "310000"), ("Гумове покриття", "140000")],
    ),
    (
        "Велодоріжка проспектом Волі",
        "Окрема смуга для велосипедів завдовжки 2 км.",
        1,
        "Центр",
        "просп. Волі",
        None,
        [("Розмітка і відокремлювачі", "900000"), ("Знаки та світлофори", "350000")],
    ),
    (
        "Інклюзивний дитячий майданчик у парку 900-річчя",
        "Гойдалки і гірки для дітей з інвалідністю.",
        1,
        "33-й мікрорайон",
        "парк 900-річчя Луцька",
        None,
        [("Обладнання", "1200000"), ("Покриття та монтаж", "450000")],
    ),
]

CHERNIVTSI_PROJECTS = [
    ("Оновлення сцени в парку Шевченка", 0, "вул. Шевченка, 1", "380000", True),
    ("Книжкові полиці в тролейбусах", 0, "тролейбусні маршрути міста", "60000", True),
    ("Пандус до поліклініки № 3", 0, "вул. Героїв Майдану, 226", "450000", False),
    ("Реконструкція стадіону на Садгорі", 1, "вул. Хотинська", "1900000", True),
]


def _dates(today, *, opens, submission, review, voting_opens, voting_closes, implementation):
    return {
        "submission_opens": today + timedelta(days=opens),
        "submission_closes": today + timedelta(days=submission),
        "review_closes": today + timedelta(days=review),
        "voting_opens": today + timedelta(days=voting_opens),
        "voting_closes": today + timedelta(days=voting_closes),
        "implementation_starts": today + timedelta(days=implementation),
    }


def _categories(programme, specs):
    return [
        Category.objects.create(
            programme=programme,
            name=name,
            budget=Decimal(budget),
            max_project_cost=Decimal(max_cost),
            position=n,
        )
        for n, (name, budget, max_cost) in enumerate(specs)
    ]


def _initiative(
    programme,
    category,
    author,
    title,
    summary,
    address,
    lines,
    status,
    when,
    district=None,
    coords=None,
):
    total = sum((Decimal(amount) for _, amount in lines), Decimal("0"))
    initiative = Initiative.objects.create(
        programme=programme,
        category=category,
        district=district,
        author=author,
        title=title,
        summary=summary,
        description=summary + " Проєкт підготували мешканці громади.",
        address=address,
        latitude=coords[0] if coords else None,
        longitude=coords[1] if coords else None,
        total_cost=total,
        status=status,
        submitted_at=when,
    )
    CostLine.objects.bulk_create(
        CostLine(initiative=initiative, position=n, description=d, amount=Decimal(a))
        for n, (d, a) in enumerate(lines, start=1)
    )
    return initiative


def _vote(voter, initiative, position):
    ballot, _ = Ballot.objects.get_or_create(
        voter=voter, programme=initiative.programme, defaults={"notify": True}
    )
    Vote.objects.create(
        ballot=ballot,
        voter=voter,
        programme=initiative.programme,
        initiative=initiative,
        category=initiative.category,
        position=position,
    )


def seed(log) -> None:
    cities = City.objects.in_bulk([LUTSK, CHERNIVTSI], field_name="katottg")
    people = {
        u.email.split("@")[0]: u for u in User.objects.filter(email__endswith="@demo.opencity.ua")
    }
    citizens = [
        people[k]
        for k in ("citizen", "citizen2", "citizen3", "citizen4", "citizen5")
        if k in people
    ]
    if len(cities) < 2 or len(citizens) < 5:
        log("initiatives: demo cities or people missing, skipped")
        return
    today = timezone.localdate()
    now = timezone.now()

    if not Programme.objects.filter(slug="lutsk-2027").exists():
        lutsk = Programme.objects.create(
            city=cities[LUTSK],
            title="Громадський бюджет Луцька 2027",
            slug="lutsk-2027",
            year=2027,
            total_budget=Decimal("10000000"),
            max_votes=3,
            one_per_category=False,
            min_voter_age=16,
            residents_only=True,
            description="Мешканці Луцька від 16 років обирають проєкти для міста.",
            **_dates(
                today,
                opens=-60,
                submission=-40,
                review=-20,
                voting_opens=-3,
                voting_closes=14,
                implementation=45,
            ),
        )
        small, large = _categories(
            lutsk, [("Малі проєкти", "3000000", "500000"), ("Великі проєкти", "7000000", "2000000")]
        )
        districts = {
            name: District.objects.create(programme=lutsk, name=name)
            for name in ("Центр", "Гнідава", "33-й мікрорайон")
        }
        authors = [citizens[0], citizens[1], citizens[3]]
        made = []
        for n, (title, summary, cat, district, address, coords, lines) in enumerate(LUTSK_PROJECTS):
            made.append(
                _initiative(
                    lutsk,
                    (small, large)[cat],
                    authors[n % 3],
                    title,
                    summary,
                    address,
                    lines,
                    Initiative.Status.ACCEPTED,
                    now - timedelta(days=50 - n),
                    districts[district],
                    coords,
                )
            )
        fountain = _initiative(
            lutsk,
            small,
            citizens[3],
            "Фонтан на Театральному майдані",
            "Відновити фонтан.",
            "Театральний майдан",
            [("Ремонт", "450000")],
            Initiative.Status.SUBMITTED,
            now - timedelta(days=45),
        )
        Initiative.objects.filter(pk=fountain.pk).update(
            status=Initiative.Status.REJECTED,
            rejection_reason=Initiative.RejectionReason.OUTSIDE_COMPETENCE,
            review_comment="Фонтан на балансі обласної ради, не міської.",
        )
        _vote(citizens[3], made[0], 1)
        _vote(citizens[3], made[3], 2)
        log("initiatives: Lutsk 2027 programme in voting, 6 initiatives")

    if not Programme.objects.filter(slug="chernivtsi-2026").exists():
        cv = Programme.objects.create(
            city=cities[CHERNIVTSI],
            title="Бюджет участі Чернівців 2026",
            slug="chernivtsi-2026",
            year=2026,
            total_budget=Decimal("5000000"),
            max_votes=2,
            one_per_category=True,
            min_voter_age=16,
            residents_only=True,
            **_dates(
                today,
                opens=-300,
                submission=-270,
                review=-240,
                voting_opens=-220,
                voting_closes=-200,
                implementation=-150,
            ),
        )
        small, large = _categories(
            cv, [("Малі проєкти", "1000000", "500000"), ("Великі проєкти", "4000000", "2000000")]
        )
        made = []
        for n, (title, cat, address, cost, _won) in enumerate(CHERNIVTSI_PROJECTS):
            made.append(
                _initiative(
                    cv,
                    (small, large)[cat],
                    citizens[3],
                    title,
                    title + ".",
                    address,
                    [("Роботи", cost)],
                    Initiative.Status.ACCEPTED,
                    now - timedelta(days=280 - n),
                )
            )
        # Residents of Chernivtsi, one project per category each.
        for voter in (citizens[2], citizens[4]):
            _vote(voter, made[0], 1)
            _vote(voter, made[3], 2)
        snapshot = tally_programme(programme_id=cv.pk)
        winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
        snapshot.published_at = now - timedelta(days=195)
        snapshot.total_voters = Vote.objects.filter(programme=cv, position=1).count()
        snapshot.save(update_fields=["published_at", "total_voters"])
        for initiative in made:
            initiative.status = (
                Initiative.Status.FUNDED
                if initiative.pk in winners
                else Initiative.Status.NOT_FUNDED
            )
            initiative.save(update_fields=["status"])
        for initiative in made:
            if initiative.pk in winners:
                ImplementationUpdate.objects.create(
                    initiative=initiative,
                    status=ImplementationUpdate.Status.PROCUREMENT,
                    happened_on=today - timedelta(days=140),
                    text="Оголошено закупівлю в Prozorro.",
                )
        ImplementationUpdate.objects.create(
            initiative=made[1],
            status=ImplementationUpdate.Status.DONE,
            happened_on=today - timedelta(days=60),
            text="Нову сцену відкрито концертом до Дня міста.",
        )
        log("initiatives: Chernivtsi 2026 programme with published results")
