from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opencity.core"
    label = "core"
    verbose_name = _("Audit log and outgoing mail")

    def ready(self) -> None:
        from opencity import checks  # noqa: F401  (registers the deployment checks)
