"""Admin: clerks confirm a voter's age and residency after checking a document (imported by
initiatives.admin). A check is recorded and audited only through the service."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from initiatives import services
from initiatives.models import EligibilityCheck
from opencity.accounts.models import User
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import StaffRole

REVIEWERS = (StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN)


class EligibilityCheckForm(forms.ModelForm):
    email = forms.EmailField(label=_("the voter's e-mail address"))

    class Meta:
        model = EligibilityCheck
        fields = ("city", "birth_date", "resident", "document")
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def clean_email(self) -> User:
        user = User.objects.filter(email__iexact=self.cleaned_data["email"]).first()
        if user is None:
            raise forms.ValidationError(_("Nobody is registered with this e-mail address."))
        return user


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(CityScopedAdmin):
    city_field = "city"
    change_roles = REVIEWERS
    add_roles = REVIEWERS
    form = EligibilityCheckForm
    list_display = ("user", "city", "resident", "document", "checked_by", "checked_at")
    list_select_related = ("user", "city", "checked_by")
    search_fields = ("user__email",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("email", "city", "birth_date", "resident", "document")
        return ("user", "city", "birth_date", "resident", "document", "checked_by", "checked_at")

    def get_readonly_fields(self, request, obj=None):
        # A check is never edited: a new check of the same person and city replaces it.
        return () if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        check = services.eligibility_confirm(
            clerk=request.user,
            city=data["city"],
            user=data["email"],
            birth_date=data["birth_date"],
            resident=data["resident"],
            document=data["document"],
        )
        obj.pk = check.pk
        obj._state.adding = False
