"""The secretariat's survey admin: build questionnaires, send waves, reopen a response for a
late change, accept a council's matrix answers into the e-services catalogue. Association
staff only (city clerks and directors see none of it)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.surveys import services
from members.surveys.models import (
    Choice,
    Invitation,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    Section,
    Wave,
)
from opencity.cities import access
from opencity.cities.admin_scoping import CityScopedAdmin


class SecretariatOnly:
    """Every permission only for association staff."""

    def has_module_permission(self, request):
        return access.is_association_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_association_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return access.is_association_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_association_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.is_association_staff(request.user)


class LockAware(SecretariatOnly):
    """Rows of a locked version are read-only here, as the database trigger keeps them."""

    def _version_of(self, obj):
        return None

    def _locked(self, obj) -> bool:
        version = self._version_of(obj)
        return version is not None and services.version_is_locked(version)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._locked(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._locked(obj)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not self._locked(obj)

    def save_model(self, request, obj, form, change):
        try:
            super().save_model(request, obj, form, change)
        except IntegrityError:
            messages.error(
                request, _("This version is locked: answers have arrived. Make a new version.")
            )


@admin.register(Questionnaire)
class QuestionnaireAdmin(SecretariatOnly, admin.ModelAdmin):
    list_display = ["title_uk", "slug", "created_at"]
    prepopulated_fields = {"slug": ["title_en"]}


class SectionInline(LockAware, admin.TabularInline):
    model = Section
    extra = 0

    def _version_of(self, obj):
        return obj


@admin.register(QuestionnaireVersion)
class QuestionnaireVersionAdmin(LockAware, admin.ModelAdmin):
    list_display = ["__str__", "locked_at", "created_at"]
    list_filter = ["questionnaire"]
    readonly_fields = ["locked_at"]
    inlines = [SectionInline]
    actions = ["make_new_version"]

    def _version_of(self, obj):
        return obj

    @admin.action(description=gettext_lazy("Make a new version to change the questions"))
    def make_new_version(self, request, queryset):
        for version in queryset:
            new = services.version_copy(version=version, actor=request.user)
            self.message_user(request, _("Version %(n)s made.") % {"n": new.number})


class ChoiceInline(LockAware, admin.TabularInline):
    model = Choice
    extra = 0

    def _version_of(self, obj):
        return obj.section.version if obj else None


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = [
            "section",
            "order",
            "code",
            "kind",
            "text_uk",
            "text_en",
            "help_uk",
            "help_en",
            "required",
            "min_value",
            "max_value",
            "allow_other",
            "show_if_question",
            "show_if_value",
        ]

    def clean(self):
        data = super().clean()
        controller, section = data.get("show_if_question"), data.get("section")
        if controller and section and controller.section.version_id != section.version_id:
            self.add_error("show_if_question", _("Choose a question of the same version."))
        if controller and self.instance.pk and controller.pk == self.instance.pk:
            self.add_error("show_if_question", _("A question cannot depend on itself."))
        return data


@admin.register(Question)
class QuestionAdmin(LockAware, admin.ModelAdmin):
    form = QuestionForm
    list_display = ["code", "kind", "section", "required"]
    list_filter = ["section__version", "kind"]
    inlines = [ChoiceInline]
    raw_id_fields = ["show_if_question"]

    def _version_of(self, obj):
        return obj.section.version if obj else None


@admin.register(Section)
class SectionAdmin(LockAware, admin.ModelAdmin):
    list_display = ["title_uk", "version", "order"]
    list_filter = ["version"]

    def _version_of(self, obj):
        return obj.version if obj else None


@admin.register(Wave)
class WaveAdmin(SecretariatOnly, admin.ModelAdmin):
    list_display = [
        "name",
        "version",
        "audience",
        "audience_value",
        "opens_on",
        "closes_on",
        "sent_at",
        "counted_at",
    ]
    actions = ["send"]

    @admin.action(description=gettext_lazy("Send the survey to the councils of the wave"))
    def send(self, request, queryset):
        for wave in queryset:
            result = services.wave_send(wave=wave, actor=request.user)
            self.message_user(
                request,
                _("%(wave)s: %(n)s councils invited.") % {"wave": wave, "n": result.invited},
            )
            if result.without_email:
                self.message_user(
                    request,
                    _("No contact e-mail, not invited: %(names)s")
                    % {"names": ", ".join(result.without_email[:50])},
                    messages.WARNING,
                )


@admin.register(Invitation)
class InvitationAdmin(CityScopedAdmin):
    view_roles = ()
    list_display = ["city", "wave", "email", "sent_at", "reminded_7_at", "reminded_14_at"]
    list_filter = ["wave"]
    readonly_fields = ["wave", "city", "email", "sent_at", "reminded_7_at", "reminded_14_at"]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Send a new link (the old one stops working)"))
    def resend(self, request, queryset):
        for invitation in queryset:
            services.invitation_resend(invitation=invitation, actor=request.user)
        self.message_user(request, _("New links sent."))


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the council may change its answers"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@admin.register(Response)
class ResponseAdmin(CityScopedAdmin):
    view_roles = ()
    list_display = ["city", "wave", "status", "submitted_at", "updated_at"]
    list_filter = ["wave", "status"]
    readonly_fields = ["wave", "city", "version", "status", "respondent", "submitted_at"]
    actions = ["accept_into_catalogue"]
    change_form_template = "admin/members/survey_response_change.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/reopen/",
                self.admin_site.admin_view(self.reopen_view),
                name="members_response_reopen",
            ),
            *super().get_urls(),
        ]

    def reopen_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        response = self.get_object_for_staff(request, pk)
        form = ReasonForm(request.POST or None)
        return self.form_page(
            request,
            form=form,
            act=lambda data: services.response_reopen(
                response=response, actor=request.user, reason=data["reason"]
            ),
            title=_("Reopen %(response)s for a late change") % {"response": response},
            success=_("The response is open again; the council can change it with its link."),
            redirect_to=reverse("admin:members_response_change", args=[pk]),
        )

    @admin.action(description=gettext_lazy("Accept the e-services they run into the catalogue"))
    def accept_into_catalogue(self, request, queryset):
        total = 0
        for response in queryset.filter(status=Response.Status.SUBMITTED):
            total += services.matrix_accept(response=response, actor=request.user)
        self.message_user(request, _("%(n)s catalogue entries recorded.") % {"n": total})
