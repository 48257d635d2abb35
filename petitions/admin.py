"""Clerk workflow in Django admin: a moderation queue, publish / reject / respond through the
services, read-only signatures, per-city rules. City staff see only their city's rows."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import StaffRole
from opencity.core import Refused
from opencity.core.services import audit_trail
from petitions import services
from petitions.forms import RejectForm, RespondForm
from petitions.models import ModerationQueue, Petition, PetitionRules, Signature

Status = Petition.Status
STAFF_ROLES = tuple(set(services.MODERATE_ROLES) | set(services.RESPOND_ROLES))


@admin.register(PetitionRules)
class PetitionRulesAdmin(CityScopedAdmin):
    change_roles = (StaffRole.Role.CITY_ADMIN,)
    add_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = (
        "city",
        "threshold",
        "collection_days",
        "respond_working_days",
        "moderation_working_days",
        "require_identity",
    )
    search_fields = ("city__name_uk", "city__name_en")
    autocomplete_fields = ("city",)


class _PetitionAdminBase(CityScopedAdmin):
    change_roles = STAFF_ROLES
    list_display = (
        "title",
        "city",
        "status",
        "moderation_due",
        "signature_count",
        "threshold",
        "response_due",
        "overdue",
    )
    list_filter = ("status",)
    search_fields = ("title", "author_name")
    list_select_related = ("city",)
    actions = ("publish_selected", "reject_selected")
    readonly_fields = (
        "title",
        "text",
        "city",
        "author_name",
        "status",
        "created_at",
        "submitted_at",
        "moderation_due",
        "published_at",
        "collection_ends_at",
        "threshold",
        "collection_days",
        "respond_working_days",
        "require_identity",
        "signature_count",
        "counted_at",
        "reached_at",
        "response_due",
        "rejection_ground",
        "rejection_comment",
        "response_decision",
        "response_text",
        "answered_at",
        "answered_on_time",
        "closed_at",
        "history",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj) -> bool:
        """Flagged by the beat job and still waiting for the staff."""
        return bool(
            (obj.status == Status.SUBMITTED and obj.moderation_overdue_at)
            or (obj.status == Status.REACHED and obj.response_overdue_at)
        )

    @admin.display(description=_("history"))
    def history(self, obj):
        entries = audit_trail(obj)[:50]
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {} → {} {}</li>",
                (
                    (
                        e.created_at.strftime("%Y-%m-%d %H:%M"),
                        e.actor or "—",
                        e.from_state,
                        e.to_state,
                        e.reason,
                    )
                    for e in entries
                ),
            ),
        )

    # --- actions --------------------------------------------------------------------------
    @admin.action(description=_("Publish selected petitions"), permissions=["change"])
    def publish_selected(self, request, queryset):
        done = 0
        for petition in queryset.select_related("author"):
            try:
                services.petition_publish(petition=petition, actor=request.user)
                done += 1
            except Refused:
                self.message_user(
                    request,
                    gettext("“%(title)s” cannot be published.") % {"title": petition.title},
                    messages.ERROR,
                )
        if done:
            self.message_user(request, gettext("Published: %(n)d.") % {"n": done})

    @admin.action(description=_("Reject selected petitions…"), permissions=["change"])
    def reject_selected(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for petition in queryset:
                try:
                    services.petition_reject(
                        petition=petition,
                        actor=request.user,
                        ground=form.cleaned_data["ground"],
                        comment=form.cleaned_data["comment"],
                    )
                    done += 1
                except Refused:
                    self.message_user(
                        request,
                        gettext("“%(title)s” cannot be rejected.") % {"title": petition.title},
                        messages.ERROR,
                    )
            if done:
                self.message_user(request, gettext("Rejected: %(n)d.") % {"n": done})
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject petitions"),
            "form": form,
            "petitions": queryset,
            "action": "reject_selected",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/petitions/reject.html", context)

    # --- per-petition buttons --------------------------------------------------------------
    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<int:pk>/publish/",
                self.admin_site.admin_view(self.publish_view),
                name="{}_{}_publish".format(*info),
            ),
            path(
                "<int:pk>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="{}_{}_reject".format(*info),
            ),
            path(
                "<int:pk>/respond/",
                self.admin_site.admin_view(self.respond_view),
                name="{}_{}_respond".format(*info),
            ),
            *super().get_urls(),
        ]

    def _change_url(self, petition) -> str:
        return reverse("admin:petitions_petition_change", args=[petition.pk])

    def publish_view(self, request: HttpRequest, pk: int):
        petition = self.get_object_for_staff(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(petition))
        try:
            services.petition_publish(petition=petition, actor=request.user)
        except Refused:
            self.message_user(
                request, gettext("This petition cannot be published."), messages.ERROR
            )
        else:
            self.message_user(request, gettext("The petition is published."))
        return HttpResponseRedirect(self._change_url(petition))

    def reject_view(self, request: HttpRequest, pk: int):
        petition = self.get_object_for_staff(request, pk, roles=services.MODERATE_ROLES)
        return self.form_page(
            request,
            form=RejectForm(request.POST or None),
            act=lambda data: services.petition_reject(
                petition=petition,
                actor=request.user,
                ground=data["ground"],
                comment=data["comment"],
            ),
            title=gettext("Reject the petition"),
            success=gettext("The petition is rejected."),
            redirect_to=self._change_url(petition),
            template="admin/petitions/reject.html",
            context={"petitions": [petition]},
        )

    def respond_view(self, request: HttpRequest, pk: int):
        petition = self.get_object_for_staff(request, pk, roles=services.RESPOND_ROLES)
        return self.form_page(
            request,
            form=RespondForm(request.POST or None),
            act=lambda data: services.petition_respond(
                petition=petition,
                actor=request.user,
                decision=data["decision"],
                text=data["text"],
            ),
            title=gettext("Official response"),
            success=gettext("The official response is published."),
            redirect_to=self._change_url(petition),
            template="admin/petitions/respond.html",
            context={"petition": petition},
        )


@admin.register(Petition)
class PetitionAdmin(_PetitionAdminBase):
    ordering = ("-id",)
    date_hierarchy = "created_at"


@admin.register(ModerationQueue)
class ModerationQueueAdmin(_PetitionAdminBase):
    list_display = ("title", "city", "author_name", "submitted_at", "moderation_due", "overdue")
    list_filter = ()
    ordering = ("moderation_due", "submitted_at", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Status.SUBMITTED)

    def get_urls(self):
        return admin.ModelAdmin.get_urls(self)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The queue links to the petition's own page with its buttons.
        return HttpResponseRedirect(reverse("admin:petitions_petition_change", args=[object_id]))


@admin.register(Signature)
class SignatureAdmin(CityScopedAdmin):
    """Read-only for everyone: signatures change only by citizens signing."""

    city_field = "petition__city"
    list_display = ("petition", "signer_name", "created_at")
    list_select_related = ("petition", "user")
    search_fields = ("user__full_name",)
    readonly_fields = ("petition", "user", "created_at", "notify_on_answer")
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description=_("signer"))
    def signer_name(self, obj):
        return obj.user.full_name

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
