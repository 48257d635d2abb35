import sys
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.module_loading import module_has_submodule
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opencity import pagecache
from opencity.accounts.forms import ProfileForm
from opencity.middleware import ours

HOME_FRESH_SECONDS = 10


def home(request: HttpRequest) -> HttpResponse:
    """Each installed app may offer `selectors.home_summary()` and `<app>/_home_card.html`;
    the home page shows their cards in INSTALLED_APPS order (the core names no service).
    The page is cached (opencity/pagecache.py) and rebuilt when a petition or programme list
    changes, or after HOME_FRESH_SECONDS."""
    return pagecache.page(
        request,
        "home.html",
        key="home",
        tags=["petitions:lists", "initiatives:lists"],
        build=lambda: {"summaries": _home_summaries()},
        fresh=HOME_FRESH_SECONDS,
    )


def _home_summaries() -> dict:
    summaries = {}
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, "selectors"):
            continue
        summary = getattr(import_module(f"{app_config.name}.selectors"), "home_summary", None)
        if summary is not None:
            summaries[app_config.label] = summary()
    return summaries


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("profile")
    return render(request, "account/profile.html", {"form": form})


@csrf_exempt
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher: remembered in a cookie and, for a signed-in person, on the
    profile, so that e-mails follow the same choice.

    A signed-in person's switch changes their profile and is CSRF-checked as usual. An
    anonymous visitor's switch only sets the language cookie, so its form carries no token:
    that keeps anonymous pages free of per-visitor tokens, the same bytes for everyone,
    which the page cache and a proxy can share (opencity/pagecache.py)."""
    if request.user.is_authenticated:
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return refused
    response = i18n.set_language(request)
    language = request.POST.get("language")
    if (
        request.user.is_authenticated
        and ours(language)
        and request.user.preferred_language != language
    ):
        request.user.preferred_language = language
        request.user.save(update_fields=["preferred_language"])
    return response


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Figures for monitoring (no personal data): the database, whether Redis is being
    bypassed, and the e-mail outbox (failed e-mails need staff; see admin)."""
    from opencity.cache import redis_breaker
    from opencity.core.services import outbox_health
    from opencity.queue import broker_breaker

    outbox = outbox_health()
    body = {
        "status": "ok" if outbox["failed"] == 0 else "attention",
        "database": "ok",
        "cache": "bypassed" if redis_breaker.is_open else "ok",
        "broker": "bypassed" if broker_breaker.is_open else "ok",
        "outbox": outbox,
    }
    return JsonResponse(body)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


#: seconds a client is asked to wait when the database does not answer
DATABASE_RETRY_AFTER = 5


def database_unreachable(exc: BaseException | None) -> bool:
    """A lost or refused database connection (a restart, a failover), not a bad query."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After and a translated page that needs no database. The person's
    form is not lost: the page says nothing was saved and to go back and send it again."""
    retry_url = request.get_full_path() if request.method == "GET" else ""
    html = render_to_string("503.html", {"retry_url": retry_url})
    response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except` block: a database that does not answer gets a
    # 503 that asks to come back, not a 500.
    if database_unreachable(sys.exc_info()[1]):
        return database_unavailable(request)
    # A static page: rendering must not depend on the database or context processors.
    return HttpResponse(TEMPLATE_500, status=500, content_type="text/html")


TEMPLATE_500 = (settings.BASE_DIR / "templates" / "500.html").read_text(encoding="utf-8")
