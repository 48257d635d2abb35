from django.contrib import admin

from opencity.identity.models import PersonKey


@admin.register(PersonKey)
class PersonKeyAdmin(admin.ModelAdmin):
    """Association staff only (ordinary model permissions): which accounts have a key, never
    the number (it is not stored)."""

    list_display = ("user", "source", "created_at")
    list_filter = ("source",)
    search_fields = ("user__email",)
    readonly_fields = ("user", "key", "source", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
