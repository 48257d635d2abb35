"""Demo and benchmark data must never reach a real city's database."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError


def refuse_in_production(what: str) -> None:
    """Stop a seeder under production settings: it would add public demo passwords."""
    if settings.PRODUCTION:
        raise CommandError(
            f"{what} refuses to run with DJANGO_ENV=production: it creates demo people with a "
            "published password. Seed a development or test database instead."
        )
