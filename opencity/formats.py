"""Numbers as people read them in the current language: «12 500,00» in Ukrainian."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format


def money(value: Decimal | int | None) -> str:
    """Two decimals, thousands grouped (a non-breaking space and a decimal comma in uk)."""
    if value is None:
        return ""
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
