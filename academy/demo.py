"""Demo data for the E-City Academy: topics, courses, sessions, experts, registrations,
attendance, a certificate and feedback. Idempotent: keyed by slugs, sessions created once
per course, registrations only where missing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.utils import timezone

from academy import services
from academy.access import ACADEMY_GROUP
from academy.models import Course, CourseMaterial, Expert, Feedback, Registration, Session, Topic
from members.models import EProduct
from opencity.accounts.demo import CHERNIVTSI, DEMO_PASSWORD, LUTSK
from opencity.accounts.models import User
from opencity.cities.models import City

TOPICS = [
    ("e-democracy", "Електронна демократія", "E-democracy"),
    ("participatory-budget", "Бюджет участі", "Participatory budgeting"),
    ("open-data", "Відкриті дані", "Open data"),
    ("e-services", "Електронні послуги", "E-services"),
    ("cybersecurity", "Кібербезпека в громаді", "Cybersecurity for councils"),
]

COURSES = [
    # slug, title, format, audience, topics, description
    (
        "e-petitions-for-councils",
        "Місцеві електронні петиції: від положення до відповіді",
        Course.Format.IN_PERSON,
        "Секретарі рад, працівники відділів звернень, депутати",
        ["e-democracy"],
        "Як ухвалити положення про е-петиції, налаштувати поріг підписів і строки збору, "
        "модерувати петиції за статтею 23-1 Закону «Про звернення громадян» і вчасно "
        "публікувати офіційну відповідь ради.",
    ),
    (
        "participatory-budget-cycle",
        "Бюджет участі: повний цикл за один рік",
        Course.Format.HYBRID,
        "Міські голови, заступники, фінансові управління, громадські активісти",
        ["participatory-budget", "e-democracy"],
        "Етапи бюджету участі: подання, експертиза робочою групою, голосування, "
        "визначення переможців у межах бюджету категорій, реалізація та звітування.",
    ),
    (
        "open-data-for-hromadas",
        "Відкриті дані громади: публікація та аналітика",
        Course.Format.ONLINE,
        "Відповідальні за оприлюднення даних, ІТ-відділи",
        ["open-data"],
        "Уніфіковані шаблони наборів даних, портал відкритих даних, перевірка якості, "
        "прості дашборди для ради та мешканців.",
    ),
    (
        "cyber-hygiene",
        "Кібергігієна для працівників ради",
        Course.Format.ONLINE,
        "Усі працівники виконавчих органів",
        ["cybersecurity", "e-services"],
        "Паролі та двофакторна автентифікація, фішинг, резервні копії, безпечна робота "
        "з персональними даними мешканців.",
    ),
]

EXPERTS = [
    # slug, name, headline, topics, languages, e-mail, cities, products, account e-mail
    (
        "olha-hnatiuk",
        "Ольга Гнатюк",
        "Тренерка з е-демократії, експертка асоціації",
        ["e-democracy", "participatory-budget"],
        "uk,en,pl",
        "o.hnatiuk@demo.opencity.ua",
        [LUTSK, CHERNIVTSI],
        ["e-petitions", "participatory-budget"],
        "trainer@demo.opencity.ua",
    ),
    (
        "serhii-danyliuk",
        "Сергій Данилюк",
        "Архітектор відкритих даних",
        ["open-data", "e-services"],
        "uk,en",
        "s.danyliuk@demo.opencity.ua",
        [LUTSK],
        ["open-data-portal", "request-analytics"],
        None,
    ),
    (
        "iryna-savchuk",
        "Ірина Савчук",
        "Фахівчиня з кібербезпеки публічного сектору",
        ["cybersecurity"],
        "uk,en,de",
        "i.savchuk@demo.opencity.ua",
        [CHERNIVTSI],
        [],
        None,
    ),
]


def _at(days: int, hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _trainer_account() -> User:
    user = User.objects.filter(email="trainer@demo.opencity.ua").first()
    if user is None:
        user = User.objects.create_user(
            email="trainer@demo.opencity.ua", password=DEMO_PASSWORD, full_name="Ольга Гнатюк"
        )
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def seed(log) -> None:
    Group.objects.get_or_create(name=ACADEMY_GROUP)
    cities = City.objects.in_bulk([LUTSK, CHERNIVTSI], field_name="katottg")
    topics = {}
    for slug, name_uk, name_en in TOPICS:
        topics[slug], _ = Topic.objects.get_or_create(
            slug=slug, defaults={"name_uk": name_uk, "name_en": name_en}
        )

    experts = {}
    trainer = _trainer_account()
    for slug, name, headline, areas, languages, email, city_codes, products, account in EXPERTS:
        expert, created = Expert.objects.get_or_create(
            slug=slug,
            defaults={
                "full_name": name,
                "headline": headline,
                "languages": languages,
                "email": email,
                "bio": f"{name} понад десять років допомагає громадам запроваджувати "
                "електронні сервіси та навчає працівників рад.",
                "user": trainer if account else None,
            },
        )
        if created:
            expert.expertise.set([topics[t] for t in areas])
            expert.cities.set([cities[c] for c in city_codes if c in cities])
            expert.products.set(EProduct.objects.filter(slug__in=products))
        experts[slug] = expert

    courses = {}
    for slug, title, course_format, audience, areas, description in COURSES:
        course, created = Course.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "format": course_format,
                "audience": audience,
                "description": description,
            },
        )
        if created:
            course.topics.set([topics[t] for t in areas])
            CourseMaterial.objects.create(
                course=course,
                title="Методичні рекомендації (посилання)",
                url="https://www.auc.org.ua/",
            )
        courses[slug] = course

    lutsk, chernivtsi = cities.get(LUTSK), cities.get(CHERNIVTSI)
    created_sessions = 0

    def plan(course_slug, days, hour, length, city, capacity, priority_days, trainer_slug, **kw):
        nonlocal created_sessions
        course = courses[course_slug]
        if course.sessions.exists():
            return course.sessions.order_by("starts_at").first()
        starts = _at(days, hour)
        session = Session.objects.create(
            course=course,
            starts_at=starts,
            ends_at=starts + timedelta(hours=length),
            city=city,
            capacity=capacity,
            registration_deadline=starts - timedelta(days=1),
            priority_until=(
                starts - timedelta(days=priority_days) if priority_days is not None else None
            ),
            **kw,
        )
        session.trainers.set([experts[trainer_slug]])
        created_sessions += 1
        return session

    past = plan(
        "e-petitions-for-councils",
        -14,
        10,
        6,
        lutsk,
        25,
        None,
        "olha-hnatiuk",
        venue="Луцьк, Київський майдан, 9, зала засідань виконкому",
    )
    budget = plan(
        "participatory-budget-cycle",
        12,
        10,
        4,
        chernivtsi,
        30,
        9,
        "olha-hnatiuk",
        venue="Чернівці, вул. Центральна площа, 1",
        meeting_url="https://meet.example.org/academy-budget",
    )
    data = plan(
        "open-data-for-hromadas",
        5,
        14,
        3,
        None,
        3,
        None,
        "serhii-danyliuk",
        meeting_url="https://meet.example.org/academy-open-data",
    )
    plan(
        "cyber-hygiene",
        21,
        11,
        2,
        None,
        100,
        None,
        "iryna-savchuk",
        meeting_url="https://meet.example.org/academy-cyber",
        hours=Decimal("2.0"),
    )

    people = {u.email: u for u in User.objects.filter(email__endswith="@demo.opencity.ua")}

    def enrol(session, email, **fields):
        user = people.get(email)
        if user is None or session.registrations.filter(user=user).exists():
            return None
        return Registration.objects.create(
            session=session,
            user=user,
            city_id=services.represented_city_id(user),
            status=fields.pop("status", Registration.Status.SEATED),
            **fields,
        )

    # The held session: attendance marked, certificates issued, feedback left.
    for email, rating in [
        ("clerk.lutsk@demo.opencity.ua", 5),
        ("citizen@demo.opencity.ua", 4),
        ("clerk.chernivtsi@demo.opencity.ua", None),
    ]:
        registration = enrol(past, email)
        if registration is None:
            continue
        services.attendance_set(registration=registration, attended=True, actor=None)
        if rating:
            Feedback.objects.get_or_create(
                registration=registration,
                defaults={"rating": rating, "comment": "Практично і по суті, дякуємо!"},
            )
    enrol(past, "citizen2@demo.opencity.ua")  # registered, did not come

    # Upcoming: a nearly full online session with a waitlist, and a session in its
    # priority window for member cities' staff.
    for email in (
        "citizen@demo.opencity.ua",
        "citizen2@demo.opencity.ua",
        "citizen3@demo.opencity.ua",
    ):
        enrol(data, email)
    enrol(
        data,
        "citizen4@demo.opencity.ua",
        status=Registration.Status.WAITLISTED,
        waitlist_position=1,
    )
    enrol(budget, "clerk.lutsk@demo.opencity.ua")

    log(
        f"academy: {len(courses)} courses, {created_sessions} new sessions, "
        f"{len(experts)} experts (trainer@demo.opencity.ua edits Ольга Гнатюк's profile)"
    )
