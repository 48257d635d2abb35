from django.contrib import admin

from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.core.models import AuditEntry, OutboundEmail


@admin.register(AuditEntry)
class AuditEntryAdmin(CityScopedAdmin):
    list_display = (
        "created_at", "action", "from_state", "to_state", "actor", "city", "content_type",
        "object_id",
    )  # fmt: skip
    list_filter = ("action", "content_type")
    search_fields = ("action", "reason", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "city", "content_type")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Association staff see failed deliveries here; clerks never see other people's mail."""

    list_display = ("created_at", "subject", "status", "attempts", "last_error")
    list_filter = ("status",)
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]

    def has_add_permission(self, request):
        return False
