"""The suite in parallel: `bin/test` runs two pytest-xdist workers.

- Each worker has a database of its own (pytest-django: `test_opencity_gw0`, `…_gw1`).
- Each has Redis databases of its own: in the test environment, settings move REDIS_URL and
  CACHE_REDIS_URL two databases up per worker (`opencity.env.redis_url_for_test_worker`),
  so one worker's `cache.clear()` or Celery worker never touches the other's keys and tasks.
- Each has ports of its own for the servers a test starts (below).

A test that starts a process on the test settings (a Celery worker) passes it the URLs from
`settings` and leaves PYTEST_XDIST_WORKER out of its environment, or that process would move
the Redis databases up a second time.
"""

from __future__ import annotations

import os

from opencity.env import xdist_worker_number

INDEX = xdist_worker_number(os.environ.get("PYTEST_XDIST_WORKER", ""))
PORTS_PER_WORKER = 100


def ports(first: int = 0, last: int = PORTS_PER_WORKER) -> range:
    """This worker's ports for servers a test starts (nginx, gunicorn, vnu): 9700–9799 for
    the first worker, 9800–9899 for the second, …; `first`/`last` pick a slice of them."""
    base = 9700 + INDEX * PORTS_PER_WORKER
    return range(base + first, base + last)
