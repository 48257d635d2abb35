"""Demo people with verified e-mail addresses, one per role. Idempotent."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from opencity.accounts.models import User
from opencity.cities.access import ASSOCIATION_GROUP, DIRECTORS_GROUP
from opencity.cities.models import City, StaffRole
from opencity.cities.services import staff_role_assign
from opencity.core.seeding import refuse_in_production

DEMO_PASSWORD = "opencity-demo"  # noqa: S105 - demo data only, printed for the newcomer
LUTSK = "UA07080170000013585"
CHERNIVTSI = "UA73060610000066784"

PEOPLE = [
    # e-mail, full name, home city, kind
    ("admin@demo.opencity.ua", "Олена Адміністраторка", None, "superuser"),
    ("director@demo.opencity.ua", "Андрій Директор", None, "director"),
    ("secretariat@demo.opencity.ua", "Ірина Секретаріат", None, "association"),
    ("clerk.lutsk@demo.opencity.ua", "Марія Коваль", LUTSK, "clerk"),
    ("clerk.chernivtsi@demo.opencity.ua", "Василь Бойко", CHERNIVTSI, "clerk"),
    ("citizen@demo.opencity.ua", "Тарас Шевчук", LUTSK, "citizen"),
    ("citizen2@demo.opencity.ua", "Оксана Мельник", LUTSK, "citizen"),
    ("citizen3@demo.opencity.ua", "Богдан Ткаченко", CHERNIVTSI, "citizen"),
    ("citizen4@demo.opencity.ua", "Наталія Кравченко", LUTSK, "citizen"),
    ("citizen5@demo.opencity.ua", "Дмитро Олійник", CHERNIVTSI, "citizen"),
]


def seed(log) -> None:
    refuse_in_production("the demo people seeder")
    cities = City.objects.in_bulk([LUTSK, CHERNIVTSI], field_name="katottg")
    association, _ = Group.objects.get_or_create(name=ASSOCIATION_GROUP)
    directors, _ = Group.objects.get_or_create(name=DIRECTORS_GROUP)
    for email, name, city_code, kind in PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=DEMO_PASSWORD,
                full_name=name,
                home_city=cities.get(city_code),
                is_superuser=kind == "superuser",
                is_staff=kind in ("superuser", "association", "director"),
            )
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if kind == "director":
            user.groups.add(directors)
        if kind == "association":
            user.groups.add(association)
        if kind == "clerk":
            for role in StaffRole.Role.values:
                staff_role_assign(user=user, city=cities[city_code], role=role)
    log(f"demo people: {len(PEOPLE)} (password {DEMO_PASSWORD!r})")
    for email, _name, _city, kind in PEOPLE[:6]:
        log(f"  {kind:<12} {email}")
