"""Every registered admin, as a superuser and as a city clerk: changelist, add and change
pages open, and bad values posted into their forms and filters get a 4xx or a form error,
never a server error. Iterates admin.site._registry, so admins added later are covered."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from opencity.accounts.models import User
from tests.mfa import sign_in_with_second_factor

BAD_VALUES = ("x", "1\x00", "9" * 20, "-" + "9" * 30, "a" * 100_000)
# list filters: one request per parameter and value class; the long string goes to search
FILTER_VALUES = ("x", "1\x00", "9" * 20)
FEW_ROWS = 3


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", verbosity=0)


def _url(model_admin, view: str, *args) -> str | None:
    opts = model_admin.model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None


def _filter_parameters(model_admin, user) -> list[str]:
    request = RequestFactory().get("/")
    request.user = user
    names: list[str] = ["q", "o", "p", "all", "_to_field"]
    try:
        changelist = model_admin.get_changelist_instance(request)
    except Exception:  # the page itself is checked through the client below
        return names
    for spec in changelist.filter_specs:
        names.extend(spec.expected_parameters())
    if model_admin.date_hierarchy:
        field = model_admin.date_hierarchy
        names.extend(f"{field}__{part}" for part in ("year", "month", "day"))
    return names


def _form_fields(model_admin, user, obj=None) -> list[str]:
    request = RequestFactory().get("/")
    request.user = user
    try:
        form = model_admin.get_form(request, obj)
    except Exception:
        return []
    return list(form.base_fields)


def _check(response, what: str, failures: list[str]) -> None:
    if response.status_code >= 500:
        failures.append(f"{response.status_code} {what}")


def _sweep(client: Client, user: User) -> tuple[int, list[str]]:
    failures: list[str] = []
    visited = 0
    for model, model_admin in admin.site._registry.items():
        label = f"{model._meta.label}"
        changelist = _url(model_admin, "changelist")
        request = RequestFactory().get("/")
        request.user = user
        if changelist and model_admin.has_view_or_change_permission(request):
            visited += 1
            _check(client.get(changelist), f"GET {changelist}", failures)
            _check(client.get(changelist, {"q": BAD_VALUES[-1]}), f"GET {changelist}?q=…", failures)
            # Bad values reach the filters and the query, not the rows: the plain GET above
            # renders a full page of rows; these ~950 requests render a few, not a hundred each.
            full_page, model_admin.list_per_page = model_admin.list_per_page, FEW_ROWS
            try:
                for name in _filter_parameters(model_admin, user):
                    for value in FILTER_VALUES:
                        response = client.get(changelist, {name: value})
                        _check(response, f"GET {changelist}?{name}={value[:24]!r}", failures)
            finally:
                model_admin.list_per_page = full_page
            for value in BAD_VALUES:
                response = client.post(
                    changelist, {"action": "delete_selected", "_selected_action": [value]}
                )
                _check(response, f"POST {changelist} action on {value[:24]!r}", failures)
        add = _url(model_admin, "add")
        if add and model_admin.has_add_permission(request):
            _check(client.get(add), f"GET {add}", failures)
            fields = _form_fields(model_admin, user)
            for value in BAD_VALUES:
                response = client.post(add, dict.fromkeys(fields, value))
                _check(response, f"POST {add} all={value[:24]!r}", failures)
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is None:
            continue
        change = _url(model_admin, "change", obj.pk)
        if not change or not model_admin.has_view_or_change_permission(request, obj):
            continue
        _check(client.get(change), f"GET {change} ({label})", failures)
        fields = _form_fields(model_admin, user, obj)
        if model_admin.has_change_permission(request, obj):
            for value in BAD_VALUES:
                response = client.post(change, dict.fromkeys(fields, value))
                _check(response, f"POST {change} all={value[:24]!r}", failures)
        for bad_pk in ("x", "9" * 20, "1\x00"):
            url = change.replace(f"/{obj.pk}/", f"/{bad_pk}/")
            _check(client.get(url), f"GET {url!r}", failures)
    return visited, failures


def test_no_admin_page_answers_a_server_error_to_bad_input(demo):
    """As the superuser and as a city clerk (one demo seeding for both: it is most of the
    cost), then the four errors once reported, checked one by one."""
    failures: list[str] = []
    for email, at_least in (("admin@demo.opencity.ua", 20), ("clerk.lutsk@demo.opencity.ua", 5)):
        user = User.objects.get(email=email)
        client = Client(raise_request_exception=False)
        sign_in_with_second_factor(client, user)
        visited, found = _sweep(client, user)
        assert visited >= at_least, email
        failures += [f"{email}: {failure}" for failure in found]
    assert failures == [], "\n".join(failures[:40])
    _the_four_reported_admin_errors_are_pages_not_server_errors()


def _the_four_reported_admin_errors_are_pages_not_server_errors() -> None:
    from initiatives.models import Programme

    user = User.objects.get(email="admin@demo.opencity.ua")
    client = Client(raise_request_exception=False)
    sign_in_with_second_factor(client, user)
    # prepopulated_fields on a read-only slug (KeyError)
    programme = Programme.objects.first()
    response = client.get(reverse("admin:initiatives_programme_change", args=[programme.pk]))
    assert response.status_code == 200
    assert programme.slug in response.content.decode()
    # a non-integer in an autocomplete field (ValueError): a form error, the rest kept
    response = client.post(
        reverse("admin:cities_staffrole_add"), {"user": "x", "city": "x", "role": "moderator"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["user"]
    # a NUL byte in a list filter (DataError) and a 20-digit day (OverflowError)
    changelist = reverse("admin:core_auditentry_changelist")
    for query in ({"action": "a\x00b"}, {"created_at__day": "9" * 20, "created_at__month": "1",
                                         "created_at__year": "2024"}):  # fmt: skip
        response = client.get(changelist, query)
        assert response.status_code in (302, 400), (query, response.status_code)
