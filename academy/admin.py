"""Academy admin.

Catalogue, sessions, experts, certificates and feedback: association staff and the
"Academy staff" group only (AcademyStaffAdmin). Registrations belong to the city the
participant represents, so city staff see (read only) their own city's participants through
CityScopedAdmin; academy staff see and manage all of them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from academy import access, services
from academy.models import (
    Certificate,
    Course,
    CourseMaterial,
    Expert,
    Feedback,
    Registration,
    Session,
    Topic,
)
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.core import Refused
from opencity.queue import enqueue_on_commit


class AcademyStaffAdmin(admin.ModelAdmin):
    """Full access for academy staff (association staff included), none for anyone else."""

    def _academy(self, request) -> bool:
        return access.is_academy_staff(request.user)

    def has_module_permission(self, request):
        return self._academy(request)

    def has_view_permission(self, request, obj=None):
        return self._academy(request)

    def has_add_permission(self, request, *args):
        return self._academy(request)

    def has_change_permission(self, request, obj=None):
        return self._academy(request)

    def has_delete_permission(self, request, obj=None):
        return self._academy(request)


@admin.register(Topic)
class TopicAdmin(AcademyStaffAdmin):
    list_display = ["name_uk", "name_en", "slug"]
    prepopulated_fields = {"slug": ["name_en"]}
    search_fields = ["name_uk", "name_en"]


class MaterialInline(admin.TabularInline):
    model = CourseMaterial
    extra = 1

    def has_add_permission(self, request, obj=None):
        return access.is_academy_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_academy_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.is_academy_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_academy_staff(request.user)


@admin.register(Course)
class CourseAdmin(AcademyStaffAdmin):
    list_display = ["title", "format", "is_published"]
    list_filter = ["format", "is_published", "topics"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["topics"]
    inlines = [MaterialInline]


@admin.action(description=_("Cancel the selected sessions and notify participants"))
def cancel_sessions(modeladmin, request, queryset):
    notified = sum(
        services.session_cancel(session_id=pk, actor=request.user)
        for pk in queryset.values_list("pk", flat=True)
    )
    modeladmin.message_user(request, _("%(count)s people notified.") % {"count": notified})


@admin.register(Session)
class SessionAdmin(AcademyStaffAdmin):
    actions = [cancel_sessions]
    list_display = [
        "course",
        "starts_at",
        "city",
        "capacity",
        "registration_deadline",
        "is_cancelled",
    ]
    list_filter = ["is_cancelled", "course__format"]
    date_hierarchy = "starts_at"
    search_fields = ["course__title", "venue"]
    autocomplete_fields = ["course", "city", "trainers"]
    list_select_related = ["course", "city"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:  # a new date, time or place reaches the people who follow the session
            services.session_changed(session=obj, actor=request.user, changed=form.changed_data)
        # More seats (or a fixed mistake) should reach the waitlist now, not at the next pass.
        from academy.tasks import promote_waitlist

        enqueue_on_commit(promote_waitlist, obj.pk)


@admin.action(description=_("Mark as attended (issues certificates)"))
def mark_attended(modeladmin, request, queryset):
    _set_attendance(modeladmin, request, queryset, True)


@admin.action(description=_("Mark as not attended (revokes certificates)"))
def mark_not_attended(modeladmin, request, queryset):
    _set_attendance(modeladmin, request, queryset, False)


def _set_attendance(modeladmin, request, queryset, attended: bool) -> None:
    changed = refused = 0
    for registration in queryset.select_related("session__course", "user", "city"):
        if not access.can_mark_attendance(request.user, registration.session):
            refused += 1
            continue
        try:
            changed += services.attendance_set(
                registration=registration, attended=attended, actor=request.user
            )
        except Refused:
            refused += 1
    modeladmin.message_user(
        request,
        _("%(changed)s changed, %(refused)s refused.") % {"changed": changed, "refused": refused},
        messages.INFO,
    )


@admin.register(Registration)
class RegistrationAdmin(CityScopedAdmin):
    city_field = "city"
    list_display = [
        "user",
        "session",
        "city",
        "status",
        "waitlist_position",
        "attended",
        "created_at",
    ]
    list_filter = ["status", "attended"]
    search_fields = ["user__full_name", "user__email", "session__course__title"]
    list_select_related = ["user", "session__course", "city"]
    # Status, seats and attendance change through the services (capacity, waitlist, audit).
    readonly_fields = [
        "session",
        "user",
        "city",
        "status",
        "waitlist_position",
        "created_at",
        "promoted_at",
        "cancelled_at",
        "reminder_sent_at",
        "attended",
        "attendance_marked_at",
    ]
    actions = [mark_attended, mark_not_attended]

    def _is_association(self, request):
        return access.is_academy_staff(request.user)

    def has_module_permission(self, request):
        return access.is_academy_staff(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return access.is_academy_staff(request.user) or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # "change" is needed for the attendance actions; every field is read only.
        return access.is_academy_staff(request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if access.is_academy_staff(request.user):
            return queryset
        from opencity.cities.access import scope_to_user_cities

        return scope_to_user_cities(queryset, request.user, self.city_field)

    def get_actions(self, request):
        if not access.is_academy_staff(request.user):
            return {}
        return super().get_actions(request)


@admin.action(description=_("Revoke the selected certificates"))
def revoke_certificates(modeladmin, request, queryset):
    count = sum(
        services.certificate_revoke(certificate=c, reason="revoked by staff", actor=request.user)
        for c in queryset.select_related("registration__city")
    )
    modeladmin.message_user(request, _("%(count)s revoked.") % {"count": count})


@admin.register(Certificate)
class CertificateAdmin(AcademyStaffAdmin):
    list_display = ["code", "holder_name", "course_title", "session_date", "revoked_at"]
    search_fields = ["code", "holder_name", "course_title"]
    readonly_fields = [
        "registration",
        "code",
        "holder_name",
        "course_title",
        "hours",
        "session_date",
        "issued_at",
        "pdf",
        "revoked_at",
        "revoked_reason",
    ]
    actions = [revoke_certificates]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(AcademyStaffAdmin):
    list_display = ["registration", "rating", "created_at"]
    list_filter = ["rating"]
    readonly_fields = ["registration", "rating", "comment", "created_at"]

    def has_add_permission(self, request, *args):
        return False


@admin.register(Expert)
class ExpertAdmin(AcademyStaffAdmin):
    list_display = ["full_name", "headline", "user", "is_public"]
    list_filter = ["is_public", "expertise"]
    search_fields = ["full_name", "headline", "bio"]
    prepopulated_fields = {"slug": ["full_name"]}
    autocomplete_fields = ["user", "cities"]
    filter_horizontal = ["expertise", "products"]
