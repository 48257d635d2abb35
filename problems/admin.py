"""City staff's work on problem reports in Django admin: their city only.

Queues per department (list filter), overdue reports highlighted, status changes, hiding
text or photos (kept for audit) — all through problems.services, all audited.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opencity.cities import access
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import StaffRole
from opencity.core import Refused
from opencity.core.services import audit_trail
from problems import selectors, services
from problems.forms import AssignForm, HideForm, StatusForm
from problems.models import (
    ApiApp,
    Category,
    CityArea,
    Department,
    Photo,
    ReplyTemplate,
    Report,
)
from problems.open311.keys import issue_key

CITY_ADMIN = (StaffRole.Role.CITY_ADMIN,)


@admin.register(CityArea)
class CityAreaAdmin(CityScopedAdmin):
    change_roles = CITY_ADMIN
    add_roles = CITY_ADMIN
    list_display = ("city", "accepts_reports", "min_lat", "max_lat", "min_lon", "max_lon")
    autocomplete_fields = ("city",)


class CategoryInline(admin.TabularInline):
    model = Category
    fields = ("name_uk", "parent", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Department)
class DepartmentAdmin(CityScopedAdmin):
    change_roles = CITY_ADMIN
    add_roles = CITY_ADMIN
    list_display = ("name_uk", "city", "answer_working_days", "open_reports", "queue")
    # Only the cities that have departments (and, for a clerk, only their own), not all
    # 1,469 hromadas.
    list_filter = (("city", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("city",)
    search_fields = ("name_uk", "name_en")
    inlines = (CategoryInline,)
    autocomplete_fields = ("city",)

    def get_queryset(self, request):
        # The open reports counted in the listing's query, not one query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count("reports", filter=Q(reports__status__in=Report.OPEN_STATUSES))
            )
        )

    @admin.display(description=_("open reports"), ordering="open_count")
    def open_reports(self, obj) -> int:
        return obj.open_count

    @admin.display(description=_("queue"))
    def queue(self, obj):
        url = reverse("admin:problems_report_changelist")
        return format_html(
            '<a href="{}?department__id__exact={}&amp;open=1">{}</a>',
            url,
            obj.pk,
            gettext("Open queue"),
        )


@admin.register(Category)
class CategoryAdmin(CityScopedAdmin):
    change_roles = CITY_ADMIN
    add_roles = CITY_ADMIN
    list_display = ("__str__", "city", "department", "is_active", "position")
    list_filter = ("is_active",)
    list_select_related = ("parent", "city", "department")
    search_fields = ("name_uk", "name_en")
    autocomplete_fields = ("city",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("parent", "department") and not self._is_association(request):
            model = Category if db_field.name == "parent" else Department
            kwargs["queryset"] = access.scope_to_user_cities(
                model.objects.all(), request.user, "city"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(CityScopedAdmin):
    change_roles = access.ALL_ROLES
    add_roles = access.ALL_ROLES
    delete_roles = CITY_ADMIN
    list_display = ("title", "city")
    autocomplete_fields = ("city",)


class OpenFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return (("1", _("open")), ("overdue", _("overdue")))

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(status__in=Report.OPEN_STATUSES)
        if self.value() == "overdue":
            return queryset.filter(selectors.overdue_filter())
        return queryset


class DepartmentFilter(admin.SimpleListFilter):
    title = _("department")
    parameter_name = "department__id__exact"

    def lookups(self, request, model_admin):
        departments = access.scope_to_user_cities(
            Department.objects.select_related("city"), request.user, "city"
        )
        return [(d.pk, f"{d.name} ({d.city})") for d in departments]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(department_id=self.value())
        return queryset


class PhotoInline(admin.TabularInline):
    model = Photo
    fields = ("preview", "hidden", "processed_at", "actions_")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("photo"))
    def preview(self, obj):
        if obj.thumbnail:
            return format_html('<img src="{}" alt="" width="120">', obj.thumbnail.url)
        return gettext("being processed")

    @admin.display(description=_("actions"))
    def actions_(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:problems_report_hide_photo", args=[obj.report_id, obj.pk]),
            gettext("Show") if obj.hidden else gettext("Hide…"),
            reverse("problems:photo_original", args=[obj.pk]),
            gettext("Original (with camera data)"),
        )


@admin.register(Report)
class ReportAdmin(CityScopedAdmin):
    change_roles = access.ALL_ROLES
    list_display = (
        "id",
        "title",
        "city",
        "category",
        "department",
        "status",
        "created_at",
        "answer_due",
        "overdue",
    )
    list_filter = (OpenFilter, "status", DepartmentFilter)
    list_select_related = ("city", "category", "category__parent", "department")
    search_fields = ("title", "address")
    ordering = ("answer_due", "-created_at")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (PhotoInline,)
    readonly_fields = (
        "title",
        "description",
        "text_hidden",
        "city",
        "category",
        "department",
        "status",
        "reporter_info",
        "public_name",
        "address",
        "lat",
        "lon",
        "source",
        "created_at",
        "answer_due",
        "answer_text",
        "answered_at",
        "answered_on_time",
        "accepted_at",
        "closed_at",
        "rejection_reason",
        "duplicate_of",
        "me_too",
        "fixed_asked_at",
        "fixed_answer",
        "reopened_at",
        "history",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("overdue"))
    def overdue(self, obj):
        if obj.is_overdue:
            return format_html('<strong class="errornote">{}</strong>', gettext("Overdue"))
        return ""

    @admin.display(description=_("reporter"))
    def reporter_info(self, obj):
        if obj.reporter_id:
            return f"{obj.reporter.full_name} <{obj.reporter.email}>"
        return f"{obj.contact_name} <{obj.contact_email}>"

    @admin.display(description=_("“me too”"))
    def me_too(self, obj) -> int:
        return selectors.support_count(obj)

    @admin.display(description=_("history"))
    def history(self, obj):
        entries = audit_trail(obj)[:100]
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {} {} → {} {}</li>",
                (
                    (
                        e.created_at.strftime("%Y-%m-%d %H:%M"),
                        e.actor or "—",
                        e.action,
                        e.from_state,
                        e.to_state,
                        e.reason,
                    )
                    for e in entries
                ),
            ),
        )

    # --- per-report pages ------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/status/",
                self.admin_site.admin_view(self.status_view),
                name="problems_report_status",
            ),
            path(
                "<int:pk>/assign/",
                self.admin_site.admin_view(self.assign_view),
                name="problems_report_assign",
            ),
            path(
                "<int:pk>/hide-text/",
                self.admin_site.admin_view(self.hide_text_view),
                name="problems_report_hide_text",
            ),
            path(
                "<int:pk>/photos/<int:photo_pk>/hide/",
                self.admin_site.admin_view(self.hide_photo_view),
                name="problems_report_hide_photo",
            ),
            *super().get_urls(),
        ]

    def _get_scoped(self, request, pk) -> Report:
        report = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, report):
            raise PermissionDenied
        return report

    def _change_url(self, report) -> str:
        return reverse("admin:problems_report_change", args=[report.pk])

    def _page(self, request, title, form, report, template="admin/problems/form_page.html"):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, template, context)

    def status_view(self, request: HttpRequest, pk: int):
        report = self._get_scoped(request, pk)
        form = StatusForm(request.POST or None, report=report)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.staff_set_status(
                    report=report,
                    actor=request.user,
                    to=data["status"],
                    reply=data.get("reply") or "",
                    reason=data.get("reason") or "",
                    duplicate_of=data.get("original"),
                )
            except Refused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, gettext("The status is changed; followers are told."))
                return HttpResponseRedirect(self._change_url(report))
        return self._page(request, gettext("Change the status"), form, report)

    def assign_view(self, request: HttpRequest, pk: int):
        report = self._get_scoped(request, pk)
        form = AssignForm(request.POST or None, report=report)
        if request.method == "POST" and form.is_valid():
            services.report_assign(
                report=report, actor=request.user, department=form.cleaned_data["department"]
            )
            self.message_user(request, gettext("The report is sent to the department."))
            return HttpResponseRedirect(self._change_url(report))
        return self._page(request, gettext("Assign to a department"), form, report)

    def hide_text_view(self, request: HttpRequest, pk: int):
        report = self._get_scoped(request, pk)
        form = HideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.report_hide_text(
                report=report,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                hidden=not report.text_hidden,
            )
            self.message_user(request, gettext("Done; the change is in the audit log."))
            return HttpResponseRedirect(self._change_url(report))
        title = gettext("Show the text again") if report.text_hidden else gettext("Hide the text")
        return self._page(request, title, form, report)

    def hide_photo_view(self, request: HttpRequest, pk: int, photo_pk: int):
        report = self._get_scoped(request, pk)
        photo = get_object_or_404(Photo, pk=photo_pk, report=report)
        form = HideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.photo_hide(
                photo=photo,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                hidden=not photo.hidden,
            )
            self.message_user(request, gettext("Done; the change is in the audit log."))
            return HttpResponseRedirect(self._change_url(report))
        title = gettext("Show the photo again") if photo.hidden else gettext("Hide the photo")
        return self._page(request, title, form, report)


@admin.register(ApiApp)
class ApiAppAdmin(admin.ModelAdmin):
    """Association staff issue Open311 keys; the key is shown once, only its hash is kept."""

    list_display = ("name", "contact_email", "key_prefix", "is_active", "created_at")
    fields = ("name", "contact_email", "is_active", "key_prefix", "reissue")
    readonly_fields = ("key_prefix",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        from django import forms

        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["reissue"] = forms.BooleanField(
            label=gettext("Issue a new key (the old one stops working)"), required=False
        )
        return form

    def get_fields(self, request, obj=None):
        return self.fields if obj else ("name", "contact_email", "is_active")

    def save_model(self, request, obj, form, change):
        key = None
        if not change or form.cleaned_data.get("reissue"):
            key = issue_key(obj)
        super().save_model(request, obj, form, change)
        if key:
            self.message_user(
                request,
                gettext("The API key for %(app)s (shown only now): %(key)s")
                % {"app": obj.name, "key": key},
                messages.WARNING,
            )
