"""Survey settings that are policy, not deployment: tiers, link lifetime."""

from django.utils.translation import gettext_lazy as _

# Tier of a hromada by population, (code, lowest population), largest first.
TIERS: list[tuple[str, int]] = [("city", 20_000), ("settlement", 5_000), ("village", 0)]
TIER_LABELS = {
    "city": _("city hromada"),
    "settlement": _("settlement hromada"),
    "village": _("village hromada"),
}
# Size bands for the results filter: (code, from, below).
SIZES: list[tuple[str, int, int | None]] = [
    ("lt5k", 0, 5_000),
    ("5-10k", 5_000, 10_000),
    ("10-50k", 10_000, 50_000),
    ("50-100k", 50_000, 100_000),
    ("100k+", 100_000, None),
]
LINK_MAX_AGE_DAYS = 180
FREE_TEXT_ON_SCREEN = 25
