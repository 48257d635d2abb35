"""Demo petitions for Lutsk and Chernivtsi in every stage of the lifecycle. Idempotent.

Every change goes through the services, so the audit trail and the e-mails are real.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from opencity.accounts.models import User
from opencity.cities.models import City
from petitions import services
from petitions.models import Petition, PetitionRules

LUTSK = "UA07080170000013585"
CHERNIVTSI = "UA73060610000066784"
DEMO = "@demo.opencity.ua"

# (city, author, title, text, target stage, signers)
PETITIONS = [
    (
        LUTSK,
        "citizen",
        "Облаштувати велодоріжку на проспекті Волі",
        "Просимо Луцьку міську раду облаштувати окрему велодоріжку на проспекті Волі від "
        "Театрального майдану до вулиці Винниченка. Зараз велосипедисти їдуть проїжджою "
        "частиною або тротуаром, що небезпечно для всіх. Пропонуємо фізично відокремлену "
        "смугу шириною 1,5 м з кожного боку та безпечні перехрестя.",
        "collecting",
        ["citizen2", "citizen4"],
    ),
    (
        LUTSK,
        "citizen2",
        "Встановити зупинку з навісом на вулиці Рівненській біля ринку",
        "На зупинці громадського транспорту біля ринку на вулиці Рівненській немає навісу й "
        "лавок. Щодня тут чекають сотні людей, серед них літні люди та батьки з дітьми. "
        "Просимо встановити павільйон з навісом, лавками та розкладом руху.",
        "submitted",
        [],
    ),
    (
        LUTSK,
        "citizen4",
        "Відкрити безкоштовний Wi-Fi у Центральному парку",
        "Просимо обладнати безкоштовну точку доступу до інтернету в Центральному парку "
        "культури і відпочинку імені Лесі Українки, щоб мешканці та гості міста могли "
        "працювати й навчатися просто неба.",
        "draft",
        [],
    ),
    (
        CHERNIVTSI,
        "citizen3",
        "Продовжити роботу тролейбусного маршруту № 3 до 23:00",
        "Останній тролейбус маршруту № 3 вирушає о 21:30, і мешканці Роші та студенти не "
        "можуть дістатися додому після вечірніх занять і змін. Просимо продовжити роботу "
        "маршруту до 23:00 хоча б у будні дні.",
        "answered",
        ["citizen", "citizen2", "citizen4", "citizen5"],
    ),
    (
        CHERNIVTSI,
        "citizen5",
        "Повернути мені кошти за евакуацію автомобіля",
        "Мій автомобіль евакуювали з вулиці Головної, хоча знак був закритий гілками. Прошу "
        "міську раду повернути мені сплачені кошти за евакуацію та штрафмайданчик.",
        "rejected",
        [],
    ),
    (
        CHERNIVTSI,
        "citizen5",
        "Облаштувати дитячий майданчик у дворі на вулиці Руській, 200",
        "У дворі багатоквартирних будинків на вулиці Руській немає жодного дитячого "
        "майданчика. Просимо встановити безпечний майданчик з гойдалками та гумовим покриттям.",
        "closed",
        ["citizen3"],
    ),
]


def seed(log) -> None:
    cities = City.objects.in_bulk([LUTSK, CHERNIVTSI], field_name="katottg")
    people = {
        u.email.split("@")[0]: u
        for u in User.objects.filter(email__endswith=DEMO).select_related("home_city")
    }
    if len(cities) < 2 or "citizen" not in people:
        log("petitions: demo people or cities missing; skipped")
        return
    PetitionRules.objects.get_or_create(
        city=cities[LUTSK], defaults={"threshold": 300, "collection_days": 60}
    )
    # A demo value, so that the five demo citizens can take a petition through every stage;
    # real councils set hundreds (Lutsk 300, Zhytomyr 300, Bila Tserkva 700).
    PetitionRules.objects.get_or_create(
        city=cities[CHERNIVTSI], defaults={"threshold": 5, "collection_days": 45}
    )
    clerks = {LUTSK: people["clerk.lutsk"], CHERNIVTSI: people["clerk.chernivtsi"]}
    created = 0
    for code, author_key, title, text, stage, signer_keys in PETITIONS:
        if Petition.objects.filter(title=title).exists():
            continue
        created += 1
        city, clerk = cities[code], clerks[code]
        petition = services.petition_create_draft(
            author=people[author_key], city=city, title=title, text=text
        )
        if stage == "draft":
            continue
        services.petition_submit(petition=petition, actor=petition.author)
        if stage == "submitted":
            continue
        if stage == "rejected":
            services.petition_reject(
                petition=petition,
                actor=clerk,
                ground=Petition.RejectionGround.PERSONAL,
                comment="Петиція стосується особистої справи; зверніться до "
                "адміністративної комісії із заявою.",
            )
            continue
        services.petition_publish(petition=petition, actor=clerk)
        for key in signer_keys:
            services.petition_sign(petition=petition, user=people[key])
        services.petition_tally(petition_id=petition.pk)
        if stage == "answered":
            petition.refresh_from_db()
            services.petition_respond(
                petition=petition,
                actor=clerk,
                decision=Petition.Decision.PARTLY,
                text="Виконавчий комітет погодив продовження роботи маршруту № 3 до 22:30 у "
                "будні дні з 1 вересня. Рух до 23:00 розглянемо після аналізу пасажиропотоку.",
            )
        if stage == "closed":
            Petition.objects.filter(pk=petition.pk).update(
                collection_ends_at=timezone.now() - timedelta(days=1)
            )
            services.close_expired()
    log(f"petitions: {created} demo petitions added")
