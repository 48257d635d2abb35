"""Admin for cities and their staff roles, scoped to the clerk's own cities."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from opencity.cities import access
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import City, StaffRole
from opencity.cities.services import staff_role_assign, staff_role_revoke


@admin.register(City)
class CityAdmin(CityScopedAdmin):
    city_field = ""
    change_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = ("name_uk", "name_en", "oblast_uk", "population", "katottg")
    list_filter = ("oblast_uk",)
    search_fields = ("name_uk", "name_en", "katottg", "slug")
    ordering = ("name_uk",)

    def get_readonly_fields(self, request, obj=None):
        if access.is_association_staff(request.user):
            return ()
        # A city administrator edits the city's public details, not the registry data.
        return (
            "katottg", "slug", "name_uk", "name_en", "raion_uk", "oblast_uk", "oblast_en",
            "population", "edem_petitions", "edem_participatory_budget",
        )  # fmt: skip


@admin.register(StaffRole)
class StaffRoleAdmin(CityScopedAdmin):
    view_roles = (StaffRole.Role.CITY_ADMIN,)
    change_roles = (StaffRole.Role.CITY_ADMIN,)
    add_roles = (StaffRole.Role.CITY_ADMIN,)
    delete_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = ("user", "city", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__full_name", "city__name_uk")
    autocomplete_fields = ("user", "city")

    def save_model(self, request, obj, form, change):
        if not access.is_association_staff(request.user) and not access.can_act_on_city(
            request.user, obj.city_id, self.add_roles
        ):
            raise PermissionDenied
        if change:
            super().save_model(request, obj, form, change)
        else:
            assigned = staff_role_assign(
                user=obj.user, city=obj.city, role=obj.role, actor=request.user
            )
            obj.pk = assigned.pk

    def delete_model(self, request, obj):
        staff_role_revoke(staff_role=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for staff_role in queryset:
            staff_role_revoke(staff_role=staff_role, actor=request.user)
