import logging
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencity.settings")
application = get_wsgi_application()


def warm_up() -> int:
    """Do once in gunicorn's master (deploy/gunicorn.conf.py, app preloaded) what each forked
    worker would otherwise do on its first requests: load the translation catalogues, build
    the URL resolver and compile every template. Workers fork from a warm master, so a
    recycled worker's first pages are not slower than the others. Opens no connection.
    Returns the number of templates compiled."""
    from django.conf import settings
    from django.template import TemplateSyntaxError, engines
    from django.urls import get_resolver
    from django.utils import translation

    for code, _name in settings.LANGUAGES:
        translation.trans_real.translation(code)
    get_resolver().reverse_dict  # noqa: B018 - populates the resolver
    engine = engines["django"].engine
    directories = []
    for loader in engine.template_loaders:
        for inner in getattr(loader, "loaders", [loader]):  # the cached loader wraps others
            directories += [Path(d) for d in inner.get_dirs() if Path(d).is_dir()]
    compiled = 0
    for directory in directories:
        for path in sorted(directory.rglob("*.html")):
            try:
                engine.get_template(str(path.relative_to(directory)))
            except (TemplateSyntaxError, LookupError, UnicodeDecodeError) as exc:
                # A third-party template for a library not installed here: never used.
                logging.getLogger(__name__).debug("warm-up: %s: %s", path.name, exc)
            else:
                compiled += 1
    return compiled
