from pathlib import Path

from django.core.management.base import BaseCommand

from opencity.cities.services import HROMADAS_CSV, import_hromadas


class Command(BaseCommand):
    help = (
        "Import or update all hromadas from opencity/cities/data/hromadas.csv (keyed by KATOTTG)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--csv", type=Path, default=HROMADAS_CSV, help="CSV file to read")

    def handle(self, *args, csv: Path, **options):
        created, updated = import_hromadas(csv)
        self.stdout.write(self.style.SUCCESS(f"hromadas: {created} created, {updated} updated"))
