from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from opencity.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Association staff only: city clerks never browse the user list (personal data)."""

    ordering = ("email",)
    list_display = ("email", "full_name", "home_city", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "preferred_language", "groups")
    search_fields = ("email", "full_name")
    autocomplete_fields = ("home_city",)
    readonly_fields = ("date_joined", "last_login", "identity_verified_at", "identity_provider")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Person"),
            {"fields": ("full_name", "preferred_language", "home_city", "date_of_birth")},
        ),
        (_("Identity"), {"fields": ("identity_verified_at", "identity_provider")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
