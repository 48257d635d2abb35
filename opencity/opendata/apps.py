from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class OpendataConfig(AppConfig):
    name = "opencity.opendata"
    label = "opendata"
    verbose_name = _("Open data")

    def ready(self) -> None:
        # Each service declares its public lists in its own `<app>/opendata.py` (as admin.py
        # is found): this core app never imports a service by name.
        autodiscover_modules("opendata")
