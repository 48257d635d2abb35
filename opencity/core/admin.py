from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.core import services
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

    list_display = (
        "created_at", "subject", "status", "attempts", "next_attempt_at", "last_error",
    )  # fmt: skip
    list_filter = ("status",)
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again (failed e-mails)"), permissions=["change"])
    def send_again(self, request, queryset):
        sent = sum(
            services.email_send_again(email=email, actor=request.user)
            for email in queryset.filter(status=OutboundEmail.Status.FAILED)
        )
        if sent:
            self.message_user(
                request,
                ngettext(
                    "%(count)d e-mail is queued again.",
                    "%(count)d e-mails are queued again.",
                    sent,
                )
                % {"count": sent},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, _("Only failed e-mails can be sent again."), messages.WARNING
            )
