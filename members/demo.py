"""Demo data: the association's member cities (public facts from DOMAIN.md). Idempotent.

Founding and accession dates are illustrative (the association was founded in 2015).
"""

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.utils import timezone

from members.models import (
    CityContact,
    CityEService,
    DuesTier,
    EProduct,
    Invoice,
    MembershipApplication,
    MembershipEvent,
    OGPCommitment,
    OGPParticipation,
    OGPReport,
    Payment,
)
from members.services import invoice_issue, invoice_outstanding, payment_record
from members.surveys import demo as survey_demo
from opencity.cities.access import ASSOCIATION_GROUP
from opencity.cities.models import City

Status = MembershipEvent.Status
Body = MembershipEvent.Body

# KATOTTG code → (status, founding, effective date, decided by, reference)
MEMBER_CITIES = {
    "UA07080170000013585": (Status.MEMBER, True, date(2015, 6, 12), Body.FOUNDING, "1"),  # Lutsk
    "UA73060610000066784": (
        Status.MEMBER,
        True,
        date(2015, 6, 12),
        Body.FOUNDING,
        "1",
    ),  # Chernivtsi
    "UA53060230000098362": (Status.MEMBER, True, date(2015, 6, 12), Body.FOUNDING, "1"),  # Myrhorod
    "UA12120070000057518": (
        Status.MEMBER,
        True,
        date(2015, 6, 12),
        Body.FOUNDING,
        "1",
    ),  # Pavlohrad
    "UA56020030000068439": (Status.MEMBER, True, date(2015, 6, 12), Body.FOUNDING, "1"),  # Varash
    "UA56080170000055864": (Status.MEMBER, True, date(2015, 6, 12), Body.FOUNDING, "1"),  # Sarny
    "UA26060130000047466": (Status.MEMBER, True, date(2015, 6, 12), Body.FOUNDING, "1"),  # Dolyna
    "UA59040130000041676": (
        Status.MEMBER,
        True,
        date(2015, 6, 12),
        Body.FOUNDING,
        "1",
    ),  # Trostianets, Sumy oblast
    "UA46140050000054478": (
        Status.MEMBER,
        True,
        date(2015, 6, 12),
        Body.FOUNDING,
        "1",
    ),  # Novoiavorivsk
    "UA46120050000027080": (
        Status.MEMBER,
        True,
        date(2015, 6, 12),
        Body.FOUNDING,
        "1",
    ),  # Dobrotvir
    "UA23060070000082704": (
        Status.MEMBER,
        False,
        date(2016, 4, 20),
        Body.ASSEMBLY,
        "GA-2016/3",
    ),  # Zaporizhzhia
    "UA26040070000065724": (
        Status.MEMBER,
        False,
        date(2016, 11, 18),
        Body.ASSEMBLY,
        "GA-2016/7",
    ),  # Burshtyn
    "UA46020030000019252": (
        Status.MEMBER,
        False,
        date(2017, 5, 26),
        Body.ASSEMBLY,
        "GA-2017/2",
    ),  # Drohobych
    "UA21100230000083101": (
        Status.MEMBER,
        False,
        date(2018, 3, 15),
        Body.ASSEMBLY,
        "GA-2018/1",
    ),  # Uzhhorod
    "UA46080130000077112": (
        Status.CANDIDATE,
        False,
        date(2019, 9, 10),
        Body.BOARD,
        "B-2019/9",
    ),  # Sambir
}

WEBSITES = {
    "UA07080170000013585": "https://www.lutskrada.gov.ua/",
    "UA73060610000066784": "https://city.cv.ua/",
    "UA46020030000019252": "https://drohobych-rada.gov.ua/",
    "UA21100230000083101": "https://rada-uzhgorod.gov.ua/",
}


# Every demo member is a city hromada except Dobrotvir, a settlement.
SETTLEMENTS = {"UA46120050000027080"}


def _council_names(cities: dict) -> None:
    """Official council names («Луцька міська рада») where the import could only guess."""
    for code, city in cities.items():
        kind_uk, kind_en = ("селищна", "Settlement") if code in SETTLEMENTS else ("міська", "City")
        City.objects.filter(pk=city.pk).update(
            council_name_uk=f"{city.name_uk} {kind_uk} рада",
            council_name_en=f"{city.name_en} {kind_en} Council",
        )


def seed(log) -> None:
    cities = City.objects.in_bulk(list(MEMBER_CITIES), field_name="katottg")
    missing = set(MEMBER_CITIES) - set(cities)
    if missing:
        raise RuntimeError(f"import hromadas first; missing {sorted(missing)}")
    for code, (status, founding, effective_on, body, ref) in MEMBER_CITIES.items():
        MembershipEvent.objects.get_or_create(
            city=cities[code],
            effective_on=effective_on,
            status=status,
            defaults={
                "founding": founding,
                "decided_by": body,
                "decision_date": effective_on,
                "decision_ref": ref,
            },
        )
        if code in WEBSITES and not cities[code].website:
            City.objects.filter(pk=cities[code].pk).update(website=WEBSITES[code])
    _council_names(cities)
    log(f"member cities: {len(MEMBER_CITIES)} in the registry")
    _association_permissions()
    _contacts(cities)
    _dues(cities, log)
    _catalogue(log)
    _ogp(log)
    _sambir_application(cities, log)
    survey_demo.seed(log)


LUTSK, CHERNIVTSI, DROHOBYCH, SAMBIR = (
    "UA07080170000013585",
    "UA73060610000066784",
    "UA46020030000019252",
    "UA46080130000077112",
)
VINNYTSIA, TERNOPIL, KHMELNYTSKYI = (
    "UA05020030000031457",
    "UA61040490000035010",
    "UA68040470000053519",
)


def _association_permissions() -> None:
    """The secretariat works on the registry, applications and dues in admin."""
    group, _ = Group.objects.get_or_create(name=ASSOCIATION_GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="members"))


def _contacts(cities: dict) -> None:
    contacts = {
        # Illustrative people and addresses (not the real office holders).
        LUTSK: ("Петро Волинець", "Олена Ковальчук", "e-city@lutsk.example", "+380 332 000 001"),
        CHERNIVTSI: ("Роман Буковинець", "Андрій Гуцул", "e-city@cv.example", "+380 372 000 002"),
        DROHOBYCH: ("Тарас Підгірний", "Ірина Стецько", "e-city@dh.example", "+380 3244 0003"),
    }  # fmt: skip
    for code, (mayor, coordinator, email, phone) in contacts.items():
        CityContact.objects.get_or_create(
            city=cities[code],
            defaults={"mayor": mayor, "coordinator": coordinator, "email": email, "phone": phone},
        )


TIERS = [
    # name, from, to, entry fee, annual dues (UAH)
    ("Громада до 50 тис. мешканців", 0, 49_999, "5000.00", "12000.00"),
    ("Громада 50–200 тис. мешканців", 50_000, 199_999, "10000.00", "24000.00"),
    ("Громада понад 200 тис. мешканців", 200_000, None, "20000.00", "48000.00"),
]


def _dues(cities: dict, log) -> None:
    for name, low, high, entry, annual in TIERS:
        DuesTier.objects.get_or_create(
            min_population=low,
            defaults={
                "name": name,
                "max_population": high,
                "entry_fee": Decimal(entry),
                "annual_dues": Decimal(annual),
            },
        )
    this_year = timezone.localdate().year
    for code, (status, _f, joined, _b, _r) in MEMBER_CITIES.items():
        if status != MembershipEvent.Status.MEMBER:
            continue
        city = cities[code]
        for year in range(joined.year, this_year + 1):
            invoice, created = invoice_issue(city=city, year=year, issued_on=date(year, 1, 20))
            if not created or Payment.objects.filter(invoice=invoice).exists():
                continue
            # Older years are paid; last year is paid in part by some; this year is open.
            owed = invoice_outstanding(invoice)
            if year < this_year - 1 or (year == this_year - 1 and int(code[-1]) % 3):
                payment_record(invoice=invoice, amount=owed, paid_on=date(year, 3, 15))
            elif year == this_year - 1:
                half = (owed / 2).quantize(Decimal("0.01"))
                payment_record(invoice=invoice, amount=half, paid_on=date(year, 4, 1))
    log(f"dues: {Invoice.objects.count()} invoices, {Payment.objects.count()} payments")


PRODUCTS = [
    # slug, name, category, description, developer, licence, link, [(city, since, results)]
    (
        "kindergarten-queue",
        "Черга до дитячих садків на захищеному реєстрі",
        EProduct.Category.E_SERVICES,
        "Електронна черга до садочків, шкіл і гуртків, кожна зміна якої записана в "
        "захищений від підробок реєстр: ніхто не може вручну переставити дитину в черзі.",
        "Дрогобицька міська рада та громадські розробники",
        "MIT",
        "https://drohobych-rada.gov.ua/",
        [(DROHOBYCH, date(2017, 9, 1), "Скарг на «ручні» зміни черги більше немає.")],
    ),
    (
        "city-chatbot",
        "Міський чат-бот",
        EProduct.Category.E_SERVICES,
        "Бот у месенджерах: довідки, прийом звернень, нагадування про вивіз сміття.",
        "Громадська організація «Відкрите місто»",
        "GPL-3.0",
        "",
        [
            (LUTSK, date(2019, 4, 1), "Близько 40 тисяч звернень на рік."),
            (CHERNIVTSI, date(2020, 2, 1), ""),
        ],
    ),
    (
        "open-data-portal",
        "Портал відкритих даних з єдиними шаблонами наборів",
        EProduct.Category.OPEN_DATA,
        "Міський портал відкритих даних з уніфікованими шаблонами наборів даних.",
        "Асоціація та партнери",
        "CC BY 4.0 (дані), MIT (код)",
        "",
        [
            (LUTSK, date(2018, 6, 1), "120 наборів даних."),
            ("UA12120070000057518", date(2019, 3, 1), ""),
        ],
    ),
    (
        "participatory-budget",
        "Громадський бюджет",
        EProduct.Category.E_DEMOCRACY,
        "Подання, голосування і звіти про реалізацію проєктів громадського бюджету.",
        "OpenCity",
        "MIT",
        "",
        [
            (LUTSK, date(2016, 9, 1), ""),
            (CHERNIVTSI, date(2017, 3, 1), ""),
            (DROHOBYCH, date(2018, 3, 1), ""),
        ],
    ),
    (
        "e-petitions",
        "Місцеві електронні петиції",
        EProduct.Category.E_DEMOCRACY,
        "Єдина система місцевих електронних петицій.",
        "OpenCity",
        "MIT",
        "",
        [
            (LUTSK, date(2016, 1, 15), ""),
            (CHERNIVTSI, date(2016, 2, 1), ""),
            ("UA53060230000098362", date(2017, 5, 1), ""),
        ],
    ),
    (
        "request-analytics",
        "Аналітика звернень до порталу ради",
        EProduct.Category.INTERNAL,
        "Панель аналітики звернень мешканців за темами, районами і строками відповіді.",
        "Луцька міська рада",
        "MIT",
        "",
        [(LUTSK, date(2021, 1, 10), "Середній строк відповіді скоротився на третину.")],
    ),
    (
        "deputies-tracker",
        "Відстеження роботи депутатів",
        EProduct.Category.E_DEMOCRACY,
        "Відвідування сесій, поіменні голосування і звіти депутатів.",
        "Громадські активісти",
        "MIT",
        "",
        [(CHERNIVTSI, date(2019, 10, 1), "")],
    ),
    (
        "contractor-checks",
        "Перевірка контрагентів за державними реєстрами",
        EProduct.Category.INTERNAL,
        "Автоматична перевірка підрядників перед укладенням договору.",
        "OpenCity",
        "MIT",
        "",
        [("UA23060070000082704", date(2020, 6, 1), "")],
    ),
    (
        "tender-monitoring",
        "Моніторинг закупівель",
        EProduct.Category.OPEN_DATA,
        "Сповіщення про ризикові закупівлі міста.",
        "Партнери асоціації",
        "Apache-2.0",
        "",
        [(DROHOBYCH, date(2021, 2, 1), ""), ("UA21100230000083101", date(2021, 9, 1), "")],
    ),
    (
        "utility-payments",
        "Оплата комунальних послуг",
        EProduct.Category.E_SERVICES,
        "Онлайн-оплата комунальних послуг з квитанцією.",
        "Комунальне підприємство",
        "Пропрієтарна",
        "",
        [("UA56020030000068439", date(2018, 11, 1), "")],
    ),
    (
        "map-services",
        "Послуги, прив’язані до мапи",
        EProduct.Category.E_SERVICES,
        "Звернення, ремонти й дозволи на інтерактивній мапі міста.",
        "OpenCity",
        "MIT",
        "",
        [(LUTSK, date(2017, 4, 1), "")],
    ),
    (
        "digital-archive",
        "Оцифрований архів",
        EProduct.Category.INTERNAL,
        "Оцифровані рішення ради та документи архіву з повнотекстовим пошуком.",
        "Міський архів",
        "CC BY 4.0",
        "",
        [(CHERNIVTSI, date(2022, 5, 1), "")],
    ),
]


def _catalogue(log) -> None:
    cities = City.objects.in_bulk(
        {code for *_rest, uses in PRODUCTS for code, _s, _r in uses}, field_name="katottg"
    )
    for slug, name, category, description, developer, licence, link, uses in PRODUCTS:
        product, _ = EProduct.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "category": category,
                "description": description,
                "developer": developer,
                "licence": licence,
                "link": link,
            },
        )
        for code, since, results in uses:
            CityEService.objects.get_or_create(
                city=cities[code], product=product, defaults={"since": since, "results": results}
            )
    log(f"e-services catalogue: {EProduct.objects.count()} products")


OGP = [
    # city, member since, plan from, plan to, forum, commitments, reports
    (VINNYTSIA, date(2020, 12, 10), date(2021, 1, 1), date(2022, 12, 31), True,
     [("Відкритий бюджет участі для шкіл", "completed", date(2022, 6, 30)),
      ("Публікація даних про закупівлі у форматі OCDS", "completed", date(2022, 12, 31))],
     [("Звіт про виконання плану дій 2021–2022", "https://www.opengovpartnership.org/")]),
    (TERNOPIL, date(2020, 12, 10), date(2021, 1, 1), date(2022, 12, 31), True,
     [("Електронна система звернень з відкритою аналітикою", "in_progress", date(2023, 6, 30))],
     [("Проміжний звіт моніторингу", "https://www.opengovpartnership.org/")]),
    (KHMELNYTSKYI, date(2022, 5, 1), date(2023, 1, 1), date(2024, 12, 31), False,
     [("Реєстр міського майна як відкриті дані", "not_started", date(2024, 12, 31))],
     []),
    (LUTSK, date(2023, 3, 1), date(2024, 1, 1), date(2025, 12, 31), True,
     [("Публічний звіт про громадський бюджет", "in_progress", date(2025, 6, 30))],
     []),
]  # fmt: skip


def _ogp(log) -> None:
    cities = City.objects.in_bulk([row[0] for row in OGP], field_name="katottg")
    for code, since, start, end, forum, commitments, reports in OGP:
        participation, created = OGPParticipation.objects.get_or_create(
            city=cities[code],
            defaults={
                "member_since": since,
                "action_plan_start": start,
                "action_plan_end": end,
                "forum_exists": forum,
            },
        )
        if not created:
            continue
        for title, status, deadline in commitments:
            OGPCommitment.objects.create(
                participation=participation, title=title, status=status, deadline=deadline
            )
        for title, url in reports:
            OGPReport.objects.create(participation=participation, title=title, url=url)
    log(f"OGP Local: {len(OGP)} cities")


DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _sambir_application(cities: dict, log) -> None:
    """One pending application (Sambir) for the secretariat to review in admin."""
    from opencity.accounts.models import User

    city = cities[SAMBIR]
    if MembershipApplication.objects.filter(city=city).exists():
        return
    applicant = User.objects.filter(email="citizen2@demo.opencity.ua").first()
    if applicant is None:
        return
    application = MembershipApplication(
        city=city,
        applicant=applicant,
        council_decision_number="1234-VIII",
        council_decision_date=date(2019, 8, 29),
        contact_name="Оксана Мельник",
        contact_email=applicant.email,
        contact_phone="+380 3236 0 00 00",
        message="Самбірська міська рада просить прийняти громаду до асоціації.",
    )
    application.decision_file.save("decision.pdf", ContentFile(DEMO_PDF), save=False)
    application.save()
    log("membership applications: Sambir waiting for review")
