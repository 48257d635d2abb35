"""Demo data: the association's member cities (public facts from DOMAIN.md). Idempotent.

Founding and accession dates are illustrative (the association was founded in 2015).
"""

from datetime import date

from members.models import City, MembershipEvent

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
    log(f"member cities: {len(MEMBER_CITIES)} in the registry")
