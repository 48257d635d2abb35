"""The cached pages (opencity/pagecache.py) of public budgets, and their invalidation.

Programmes, their categories and districts change in admin (ModelAdmin.save_model), so a
saved row invalidates its programme's pages here (connected in apps.py). Status changes made
with conditional UPDATEs (review, publishing results) reach the pages within their `fresh`
window instead.
"""

from django.db.models.signals import post_delete, post_save

from opencity import pagecache

LISTS_TAG = "initiatives:lists"
PROGRAMME_FRESH_SECONDS = 5


def programme_tag(slug: str) -> str:
    return f"programme:{slug}"


def programme_changed(slug: str) -> None:
    pagecache.invalidate(programme_tag(slug), LISTS_TAG)


def _programme_saved(sender, instance, **kwargs) -> None:
    programme_changed(instance.slug)


def _part_saved(sender, instance, **kwargs) -> None:
    programme_changed(instance.programme.slug)


def connect() -> None:
    from initiatives.models import Category, District, Initiative, Programme

    for signal in (post_save, post_delete):
        signal.connect(_programme_saved, sender=Programme, dispatch_uid=f"pc-programme-{signal}")
        for model in (Category, District, Initiative):
            signal.connect(_part_saved, sender=model, dispatch_uid=f"pc-{model.__name__}-{signal}")
