from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opencity import pagecache
from opencity.accounts.forms import ProfileForm

# Each app may offer `selectors.home_summary()`; the home page shows what they return.
HOME_APPS = ("petitions", "initiatives", "academy", "members")
HOME_FRESH_SECONDS = 10


def home(request):
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
    for app in HOME_APPS:
        try:
            selectors = import_module(f"{app}.selectors")
        except ModuleNotFoundError:
            continue
        summary = getattr(selectors, "home_summary", None)
        if summary is not None:
            summaries[app] = summary()
    return summaries


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("profile")
    return render(request, "account/profile.html", {"form": form})


@csrf_exempt
@require_POST
def set_language(request):
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
        and language in dict(settings.LANGUAGES)
        and request.user.preferred_language != language
    ):
        request.user.preferred_language = language
        request.user.save(update_fields=["preferred_language"])
    return response


@never_cache
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # A static page: rendering must not depend on the database or context processors.
    return HttpResponse(TEMPLATE_500, status=500, content_type="text/html")


TEMPLATE_500 = (settings.BASE_DIR / "templates" / "500.html").read_text(encoding="utf-8")
