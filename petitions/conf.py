"""Petition settings: defaults for cities without their own rules, and cache timings."""

from opencity.env import env_int

# Used until a city saves its own rules (admin → Petition rules).
DEFAULT_THRESHOLD = env_int("PETITIONS_DEFAULT_THRESHOLD", 300, min_value=1)
DEFAULT_COLLECTION_DAYS = env_int("PETITIONS_DEFAULT_COLLECTION_DAYS", 60, min_value=1)
DEFAULT_RESPOND_WORKING_DAYS = 10
DEFAULT_MODERATION_WORKING_DAYS = 2
MAX_COLLECTION_DAYS = 90

# A surge of signatures queues at most one tally per petition per this many seconds.
TALLY_COALESCE_SECONDS = 1
# Rendered public lists are kept this long in the shared cache (they change with every tally).
PAGE_CACHE_SECONDS = env_int("PETITIONS_PAGE_CACHE_SECONDS", 5, min_value=0)
# A petition's cached page (opencity/pagecache.py) is rebuilt from the tallied count at most
# this often: the count a visitor sees is at most this much older than the tally.
COUNT_REFRESH_SECONDS = env_int("PETITIONS_COUNT_REFRESH_SECONDS", 1, min_value=1)
# A petition closes this long after its period ended, so last-second signatures are counted.
CLOSE_GRACE_MINUTES = 5

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 10_000
SIGNATORIES_PER_PAGE = 50
PETITIONS_PER_PAGE = 20
