from importlib import import_module

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from opencity.core.seeding import refuse_in_production


def demo_modules() -> list[str]:
    """Every installed app's `demo` module, in INSTALLED_APPS order: the core (people,
    cities) comes before the services that refer to them."""
    return [
        f"{app_config.name}.demo"
        for app_config in apps.get_app_configs()
        if module_has_submodule(app_config.module, "demo")
    ]


class Command(BaseCommand):
    help = "Import hromadas and add demo content for every app. Safe to run again."

    def handle(self, *args, **options):
        refuse_in_production("seed_demo")
        call_command("import_hromadas", stdout=self.stdout)
        for module_name in demo_modules():
            module = import_module(module_name)
            with transaction.atomic():
                module.seed(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
