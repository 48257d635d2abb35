"""Forms: validation only. Rules with state (stage, category maximum) are in services too."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext_lazy as _

from initiatives import photos as project_photos
from initiatives.models import Initiative, Programme, Stage
from initiatives.services import CostLineInput
from opencity import images
from opencity.formats import money
from opencity.forms import AmountField, clean_plain_text


class InitiativeForm(forms.Form):
    category = forms.ModelChoiceField(queryset=None, label=_("Category"))
    district = forms.ModelChoiceField(queryset=None, label=_("District"), required=False)
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Summary"), max_length=300, help_text=_("One or two sentences for the list.")
    )
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What will be done, for whom, and why it matters."),
    )
    address = forms.CharField(label=_("Address or place"), max_length=255)
    latitude = forms.DecimalField(
        label=_("Latitude"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-90"),
        max_value=Decimal("90"),
        help_text=_("Optional, for example 50.747233."),
    )
    longitude = forms.DecimalField(
        label=_("Longitude"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-180"),
        max_value=Decimal("180"),
        help_text=_("Optional, for example 25.325383."),
    )
    photos = images.PhotosField(
        max_photos=project_photos.MAX_PHOTOS,
        limits=project_photos.limits,
        label=_("Photos of the place"),
        help_text=images.photos_help_text(
            project_photos.MAX_PHOTOS, project_photos.PHOTO_MAX_BYTES
        ),
    )

    def __init__(self, *args, programme: Programme, **kwargs):
        super().__init__(*args, **kwargs)
        self.programme = programme
        self.fields["category"].queryset = programme.categories.all()
        self.fields["category"].label_from_instance = lambda c: (
            _("%(name)s (up to %(max)s UAH per project)")
            % {"name": c.name, "max": money(c.max_project_cost)}
        )
        districts = programme.districts.all()
        self.fields["district"].queryset = districts
        if not districts.exists():
            del self.fields["district"]

    def clean_title(self):
        return clean_plain_text(self.cleaned_data["title"])

    def clean_summary(self):
        return clean_plain_text(self.cleaned_data["summary"])

    def clean_description(self):
        return clean_plain_text(self.cleaned_data["description"])

    def clean_address(self):
        return clean_plain_text(self.cleaned_data["address"])

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise forms.ValidationError(
                _("Give both latitude and longitude, or neither."), code="coordinates"
            )
        return data


class CostLineForm(forms.Form):
    description = forms.CharField(label=_("Item"), max_length=200)
    amount = AmountField(label=_("Amount, UAH"), max_digits=12, decimal_places=2)

    def clean_description(self):
        return clean_plain_text(self.cleaned_data["description"])

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise forms.ValidationError(_("The amount must be greater than zero."), code="amount")
        return amount


class BaseCostLineFormSet(BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError(_("Add at least one cost line."), code="no_lines")

    def lines(self) -> list[CostLineInput]:
        return [
            CostLineInput(
                description=f.cleaned_data["description"], amount=f.cleaned_data["amount"]
            )
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]

    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines()), Decimal("0"))


CostLineFormSet = formset_factory(
    CostLineForm,
    formset=BaseCostLineFormSet,
    extra=4,
    max_num=30,
    validate_max=True,
    can_delete=True,
)


def submission_forms(
    programme: Programme, data=None, initiative: Initiative | None = None, files=None
):
    """The initiative form and its cost-line formset, bound to `data` (and the uploaded
    `files`) or to `initiative`."""
    initial, lines = None, None
    if initiative is not None and data is None:
        initial = {
            "category": initiative.category_id,
            "district": initiative.district_id,
            "title": initiative.title,
            "summary": initiative.summary,
            "description": initiative.description,
            "address": initiative.address,
            "latitude": initiative.latitude,
            "longitude": initiative.longitude,
        }
        lines = [
            {"description": line.description, "amount": line.amount}
            for line in initiative.cost_lines.all()
        ]
    form = InitiativeForm(data, files, programme=programme, initial=initial)
    formset = CostLineFormSet(data, initial=lines, prefix="lines")
    return form, formset


def check_total_against_category(form: InitiativeForm, formset: BaseCostLineFormSet) -> bool:
    """Add an error to the form when the lines' total is over the chosen category's maximum."""
    category = form.cleaned_data.get("category")
    total = formset.total()
    if category is not None and total > category.max_project_cost:
        form.add_error(
            "category",
            forms.ValidationError(
                _("The total cost %(total)s UAH is over this category's maximum of %(max)s UAH."),
                code="over_max",
                params={"total": money(total), "max": money(category.max_project_cost)},
            ),
        )
        return False
    return True


class ReviewForm(forms.Form):
    ACCEPT, REVISE, REJECT = "accept", "revise", "reject"
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (ACCEPT, _("Accept for voting")),
            (REVISE, _("Ask the author for a revision")),
            (REJECT, _("Reject")),
        ],
    )
    reason = forms.ChoiceField(
        label=_("Reason for rejection"),
        required=False,
        choices=[("", "—"), *Initiative.RejectionReason.choices],
    )
    comment = forms.CharField(
        label=_("Comment to the author"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Required when asking for a revision or rejecting for another reason."),
    )

    def clean_comment(self):
        return clean_plain_text(self.cleaned_data["comment"])

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == self.REJECT and not data.get("reason"):
            self.add_error("reason", _("Choose the reason for rejection."))
        if decision == self.REVISE and not data.get("comment"):
            self.add_error("comment", _("Tell the author what to change."))
        if (
            decision == self.REJECT
            and data.get("reason") == Initiative.RejectionReason.OTHER
            and not data.get("comment")
        ):
            self.add_error("comment", _("Explain the reason for rejection."))
        return data


class ExtendStageForm(forms.Form):
    stage = forms.ChoiceField(
        label=_("Stage"),
        choices=[
            (s.value, s.label)
            for s in (Stage.SUBMISSION, Stage.REVIEW, Stage.VOTING, Stage.RESULTS)
        ],
    )
    until = forms.DateField(label=_("New last day"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def clean_reason(self):
        return clean_plain_text(self.cleaned_data["reason"])


class NotifyForm(forms.Form):
    notify = forms.BooleanField(
        label=_("E-mail me when the results are published and when my projects are built"),
        required=False,
    )


class PhotoHideForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the audit log."),
    )

    def clean_reason(self):
        return clean_plain_text(self.cleaned_data["reason"])
