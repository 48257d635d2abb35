from importlib import import_module

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

# Order matters: people and cities first, then what refers to them.
DEMO_MODULES = (
    "opencity.accounts.demo",
    "members.demo",
    "petitions.demo",
    "initiatives.demo",
    "academy.demo",
    "problems.demo",
)


class Command(BaseCommand):
    help = "Import hromadas and add demo content for every app. Safe to run again."

    def handle(self, *args, **options):
        call_command("import_hromadas", stdout=self.stdout)
        for module_name in DEMO_MODULES:
            try:
                module = import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    continue
                raise
            with transaction.atomic():
                module.seed(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
