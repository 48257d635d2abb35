"""CityScopedAdmin: Django admin that shows a city clerk only their own city's rows.

Association staff keep Django's ordinary model permissions. City staff get access from
their StaffRole instead: each admin says which roles may view, add, change or delete, and
every queryset, object and City choice is limited to the cities where they hold one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from opencity.cities import access
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.web import refusal_to_form


class CityScopedAdmin(admin.ModelAdmin):
    #: lookup path from the model to its City ("city", "petition__city"; "" for City itself)
    city_field = "city"
    view_roles: tuple[str, ...] = access.ALL_ROLES
    change_roles: tuple[str, ...] = ()
    add_roles: tuple[str, ...] = ()
    delete_roles: tuple[str, ...] = ()

    # --- which city an object belongs to ----------------------------------------------------
    def city_id_of(self, obj) -> int | None:
        if obj is None:
            return None
        if not self.city_field:
            return obj.pk
        *path, last = self.city_field.split("__")
        target = obj
        for attr in path:
            target = getattr(target, attr, None)
            if target is None:
                return None
        return getattr(target, f"{last}_id", None)

    def _city_staff_may(self, request, roles, obj=None) -> bool:
        user = request.user
        if not roles or not access.is_city_staff(user):
            return False
        if obj is None:
            return bool(access.city_ids_for(user, roles))
        return access.can_act_on_city(user, self.city_id_of(obj), roles)

    def _is_association(self, request) -> bool:
        return access.is_association_staff(request.user)

    # --- permissions ----------------------------------------------------------------------
    def has_module_permission(self, request):
        if self._is_association(request):
            return super().has_module_permission(request)
        return self._city_staff_may(request, self.view_roles)

    def has_view_permission(self, request, obj=None):
        if self._is_association(request):
            return super().has_view_permission(request, obj)
        return self._city_staff_may(request, set(self.view_roles) | set(self.change_roles), obj)

    def has_change_permission(self, request, obj=None):
        if self._is_association(request):
            return super().has_change_permission(request, obj)
        return self._city_staff_may(request, self.change_roles, obj)

    def has_add_permission(self, request):
        if self._is_association(request):
            return super().has_add_permission(request)
        return self._city_staff_may(request, self.add_roles)

    def has_delete_permission(self, request, obj=None):
        if self._is_association(request):
            return super().has_delete_permission(request, obj)
        return self._city_staff_may(request, self.delete_roles, obj)

    # --- rows and choices -----------------------------------------------------------------
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return access.scope_to_user_cities(queryset, request.user, self.city_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is City and not self._is_association(request):
            kwargs["queryset"] = City.objects.filter(
                pk__in=access.city_ids_for(request.user, access.ALL_ROLES)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not self._is_association(request) and not access.can_act_on_city(
            request.user, self.city_id_of(obj), set(self.change_roles) | set(self.add_roles)
        ):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    # --- pages of one object: get it for staff, confirm then act --------------------------------
    def get_object_for_staff(
        self, request: HttpRequest, pk: int, roles: Iterable[str] | None = None, queryset=None
    ):
        """The object `pk` among the rows this admin shows the user (else 404, also for a
        row of another city, so its existence is not revealed), if the user may change it
        (else PermissionDenied); with `roles`, only in one of those roles of the object's
        city. `queryset` replaces this admin's rows (e.g. with select_related)."""
        obj = get_object_or_404(self.get_queryset(request) if queryset is None else queryset, pk=pk)
        if not self.has_view_permission(request, obj):
            raise Http404
        allowed = self.has_change_permission(request, obj)
        if allowed and roles is not None:
            allowed = access.can_act_on_city(request.user, self.city_id_of(obj), roles)
        if not allowed:
            raise PermissionDenied
        return obj

    def form_page(
        self,
        request: HttpRequest,
        *,
        form: forms.Form,
        act: Callable[[dict[str, Any]], object],
        title: str,
        success: str,
        redirect_to: str,
        template: str = "admin/form_page.html",
        context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """A confirm-then-act admin page: show `form`; on a valid POST call
        `act(form.cleaned_data)`. A service's `Refused` becomes an error on the form (on its
        field when it names one), so the page keeps what the clerk typed; success is a
        message and a redirect."""
        if request.method == "POST" and form.is_valid():
            try:
                act(form.cleaned_data)
            except Refused as exc:
                refusal_to_form(form, exc)
            else:
                self.message_user(request, success)
                return HttpResponseRedirect(redirect_to)
        page = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "opts": self.model._meta,
            **(context or {}),
        }
        return TemplateResponse(request, template, page)
