import csv
from io import StringIO

import pytest

from opencity.cities.models import City
from opencity.cities.services import HROMADAS_CSV, import_hromadas

pytestmark = pytest.mark.django_db


def test_imports_all_hromadas_and_rerunning_never_duplicates():
    assert import_hromadas() == (1469, 0)
    assert import_hromadas() == (0, 0)
    assert City.objects.count() == 1469
    assert City.objects.values("slug").distinct().count() == 1469
    lutsk = City.objects.get(katottg="UA07080170000013585")
    assert (lutsk.name_uk, lutsk.name_en, lutsk.oblast_en) == ("Луцька", "Lutska", "Volynska")
    assert lutsk.population == 236322
    assert lutsk.slug == "lutska"


def test_rerun_updates_changed_rows_by_katottg(tmp_path):
    import_hromadas()
    with open(HROMADAS_CSV, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["katottg"] == "UA07080170000013585":
            row["population_2022"] = "240000"
    changed = tmp_path / "hromadas.csv"
    with open(changed, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)
    City.objects.filter(katottg="UA07080170000013585").update(website="https://lutskrada.gov.ua/")
    assert import_hromadas(changed) == (0, 1)
    lutsk = City.objects.get(katottg="UA07080170000013585")
    assert lutsk.population == 240000
    assert lutsk.website == "https://lutskrada.gov.ua/"  # not in the CSV, so kept


def test_duplicate_names_get_distinct_slugs():
    import_hromadas()
    dolynska = set(City.objects.filter(name_en="Dolynska").values_list("slug", flat=True))
    assert len(dolynska) == 4
    assert "dolynska-ivano-frankivska" in dolynska


def test_demo_command_is_idempotent_and_marks_member_cities(db):
    from django.core.management import call_command

    from members.selectors import member_cities

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    members = set(member_cities().values_list("katottg", flat=True))
    assert "UA07080170000013585" in members  # Lutsk
    assert "UA59040130000041676" in members  # Trostianets, Sumy oblast
    assert "UA05040250000027965" not in members  # the other Trostianets (Vinnytsia)
    assert "UA46080130000077112" not in members  # Sambir is a candidate
    assert len(members) == 14
