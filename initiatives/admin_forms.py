"""The forms of the public-budget admin: a programme's rules and categories, which are refused
once voting has started (the frozen copy is what counts), and implementation updates."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from initiatives import services
from initiatives.models import FROZEN_PROGRAMME_FIELDS, ImplementationUpdate, Programme
from opencity.core import Refused
from opencity.formats import money

DATE_FIELDS = (
    "submission_opens",
    "submission_closes",
    "review_closes",
    "voting_opens",
    "voting_closes",
    "implementation_starts",
)


def rules_locked(programme: Programme | None) -> bool:
    """Rules are frozen (or about to be: voting has started) for this programme."""
    if programme is None or programme.pk is None:
        return False
    return programme.voting_has_started or services.frozen_rules(programme) is not None


def frozen_message(programme: Programme) -> str:
    try:
        services.refuse_if_frozen(programme)
    except Refused as exc:
        return exc.message
    return gettext("Voting has started: the rules and budgets of this programme cannot change.")


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = (
            "city", "title", "slug", "year", "description", "total_budget", *DATE_FIELDS,
            "max_votes", "one_per_category", "min_voter_age", "residents_only",
            "votes_changeable", "live_counts", "winner_rule", "verified_eligibility",
        )  # fmt: skip

    def clean(self):
        data = super().clean()
        changed = set(self.changed_data) & set(FROZEN_PROGRAMME_FIELDS)
        if changed and rules_locked(self.instance):
            raise forms.ValidationError(frozen_message(self.instance))
        return data


class CategoryFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if rules_locked(self.instance) and (
            any(form.has_changed() for form in self.forms) or self.deleted_forms
        ):
            raise forms.ValidationError(frozen_message(self.instance))
        total = Decimal("0")
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data and not data.get("DELETE"):
                total += data.get("budget") or Decimal("0")
        budget = getattr(self.instance, "total_budget", None)
        if budget is not None and total > budget:
            raise forms.ValidationError(
                _("The categories' budgets (%(sum)s UAH) exceed the programme's total budget."),
                params={"sum": money(total)},
            )


class ImplementationUpdateForm(forms.ModelForm):
    class Meta:
        model = ImplementationUpdate
        fields = ("status", "happened_on", "text")
        widgets = {"happened_on": forms.DateInput(attrs={"type": "date"})}
