"""The Celery application: Redis broker, JSON only, settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencity.settings")

app = Celery("opencity")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
