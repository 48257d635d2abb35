"""The cached pages (opencity/pagecache.py) that show petitions, and their invalidation."""

from opencity import pagecache

# The public lists (first pages) and the home page's petitions card.
LISTS_TAG = "petitions:lists"


def petition_tag(petition_id: int) -> str:
    return f"petition:{petition_id}"


def petition_changed(petition_id: int) -> None:
    """A petition's status or content changed: its page and the lists are rebuilt on their
    next request (after the current transaction commits)."""
    pagecache.invalidate(petition_tag(petition_id), LISTS_TAG)
