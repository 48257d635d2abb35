"""The project's admin site: no server error from bad input, and staff sign in through allauth.

Every admin view (every ModelAdmin's changelist, add, change, delete, history and custom
views, the index and autocomplete) runs through `OpenCityAdminSite.admin_view`, which:

- runs the view in a transaction (a savepoint when nested), so a failed statement leaves
  nothing half done and the connection usable;
- turns input the database or Python cannot read into a translated 400 page instead of a
  500: a non-integer in a raw-id or autocomplete field, a NUL byte in a list filter
  (PostgreSQL text cannot hold one: DataError), a date-hierarchy day with 20 digits
  (OverflowError), a value out of range.

Every ModelAdmin registered on the site also gets `SafeModelAdminMixin` (mixed in at
registration, so admins of apps written later are covered too), which fixes the causes
where they are in the admin itself rather than in the input:

- prepopulated fields whose field or source is read-only on this page are dropped (Django
  raises KeyError building the change page of an object whose slug is read-only);
- autocomplete widgets render only the submitted values their model can hold, so a form
  posted with `user=x` shows "Select a valid choice" instead of failing to render.

Staff sign in through allauth's login (password, then the second factor), not the admin's
own login form, which would skip the second factor.
"""

from __future__ import annotations

import logging
from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

#: exceptions that mean "this request carried a value that cannot be read", not a bug
BAD_INPUT = (ValueError, OverflowError, DataError, ValidationError)


class _ValidChoicesOnly:
    """Autocomplete widgets look up the submitted values to label them; skip values the
    target field cannot hold ('x' for an integer key) instead of raising ValueError."""

    def optgroups(self, name, value, attr=None):
        model = self.choices.queryset.model
        to_field = self.choices.field.to_field_name
        target = model._meta.get_field(to_field) if to_field else model._meta.pk
        readable = []
        for item in value:
            try:
                target.to_python(item)
            except (ValidationError, ValueError, TypeError, OverflowError):
                continue
            if isinstance(item, str) and "\x00" in item:
                continue
            readable.append(item)
        return super().optgroups(name, readable, attr)


class SafeAutocompleteSelect(_ValidChoicesOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_ValidChoicesOnly, AutocompleteSelectMultiple):
    pass


_SAFE_WIDGETS = {
    AutocompleteSelect: SafeAutocompleteSelect,
    AutocompleteSelectMultiple: SafeAutocompleteSelectMultiple,
}


class SafeModelAdminMixin:
    """Mixed into every ModelAdmin registered on the project's admin site."""

    def get_prepopulated_fields(self, request, obj=None):
        fields = super().get_prepopulated_fields(request, obj)
        if not fields:
            return fields
        readonly = set(self.get_readonly_fields(request, obj))
        return {
            field: sources
            for field, sources in fields.items()
            if field not in readonly and not readonly.intersection(sources)
        }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        # the widget itself, or the one inside a RelatedFieldWidgetWrapper
        for candidate in (widget, getattr(widget, "widget", None)):
            safe = _SAFE_WIDGETS.get(type(candidate))
            if safe is not None:
                candidate.__class__ = safe
        return formfield


class OpenCityAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SafeModelAdminMixin):
            admin_class = type(
                admin_class.__name__,
                (SafeModelAdminMixin, admin_class),
                {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
            )
        return super().register(model_or_iterable, admin_class, **options)

    def admin_view(self, view, cacheable=False):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            try:
                with transaction.atomic():
                    response = view(request, *args, **kwargs)
                    if isinstance(response, TemplateResponse) and not response.is_rendered:
                        response.render()  # render inside the guard: widgets query too
                    return response
            except BAD_INPUT as exc:
                logger.warning(
                    "admin: unreadable input on %s %s (%s)",
                    request.method,
                    request.path,
                    type(exc).__name__,
                )
                return self.bad_request(request)

        return super().admin_view(guarded, cacheable)

    def bad_request(self, request):
        context = {
            **self.each_context(request),
            "title": _("This request could not be read"),
        }
        return TemplateResponse(request, "admin/bad_request.html", context, status=400)

    def login(self, request, extra_context=None):
        """Sign in through allauth (password and second factor), then come back."""
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied  # signed in, but not staff: no login loop
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")


class OpenCityAdminConfig(AdminConfig):
    default_site = "opencity.admin_site.OpenCityAdminSite"
