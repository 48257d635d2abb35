"""gunicorn settings for OpenCity: `gunicorn -c deploy/gunicorn.conf.py opencity.wsgi`.

Used by the README's process table, deploy/systemd/opencity-web.service and
bench/viral.py, which measures the server as deployed. Options given on the command line
(e.g. `-b 127.0.0.1:8131`) win over these.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers behind nginx, which buffers slow clients: about two per core.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 60
# Workers are recycled against slow memory growth, not all at once, and not often: a
# surge serves some 800 requests a second, so 2,000 meant each worker restarting every
# ten seconds.
max_requests = 20000
max_requests_jitter = 2000
# The app is imported once, in the master, and workers fork from it: a recycled worker is
# serving in milliseconds instead of spending some 1.5 s of CPU importing Django and every
# app (under a surge, 4 workers recycled every few seconds cost a third of a core and a
# second's stall each). Nothing opens a database or Redis connection at import time, so no
# connection is shared across the fork (tests/test_settings.py checks). The price: a code
# update needs a restart, not a HUP (systemctl restart opencity-web).
preload_app = True


def when_ready(server) -> None:
    """Before the first worker forks: translations, URLs and templates loaded once in the
    master (opencity.wsgi.warm_up), so no worker compiles them on its first requests."""
    from opencity.wsgi import warm_up

    server.log.info("warm-up: %d templates compiled", warm_up())
