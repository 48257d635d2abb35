"""Validation only: the joining application, the applicant's answer, report periods."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members import conf
from members.models import MembershipApplication
from members.selectors import cities_with_membership
from opencity.cities.models import City
from opencity.forms import clean_plain_text

PDF_MAGIC = b"%PDF-"
PDF_CONTENT_TYPES = {"application/pdf", "application/x-pdf"}
REFILL_FILE = _("For your safety the browser does not keep a chosen file: please choose it again.")


def validate_decision_pdf(upload: UploadedFile) -> UploadedFile:
    """A real PDF (content type and the %PDF- signature, not just the name) of bounded size."""
    limit = conf.DECISION_MAX_MB * 1024 * 1024
    if upload.size > limit:
        raise forms.ValidationError(
            _("The file is %(size)s MB; the limit is %(limit)s MB."),
            code="too_big",
            params={"size": f"{upload.size / 1024 / 1024:.1f}", "limit": conf.DECISION_MAX_MB},
        )
    if upload.size == 0:
        raise forms.ValidationError(_("The file is empty."), code="empty")
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in PDF_CONTENT_TYPES or not head.lstrip().startswith(PDF_MAGIC):
        raise forms.ValidationError(
            _("Please upload the council decision as a PDF file."), code="not_pdf"
        )
    return upload


class ApplicationForm(forms.ModelForm):
    city = forms.ModelChoiceField(
        label=_("Hromada"),
        queryset=City.objects.none(),
        help_text=_("The hromada whose council decided to join."),
    )

    class Meta:
        model = MembershipApplication
        fields = [
            "city",
            "council_decision_number",
            "council_decision_date",
            "decision_file",
            "contact_name",
            "contact_email",
            "contact_phone",
            "message",
        ]
        widgets = {
            "council_decision_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "decision_file": forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
            "message": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {
            "decision_file": _("PDF, up to %(mb)s MB.") % {"mb": conf.DECISION_MAX_MB},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Members cannot apply again; candidates, former members and others can.
        self.fields["city"].queryset = (
            cities_with_membership()
            .filter(
                Q(membership_status__isnull=True)
                | Q(membership_status__in=["candidate", "withdrawn"])
            )
            .order_by("name_uk")
        )
        self.fields["city"].label_from_instance = lambda c: f"{c.name_uk} ({c.oblast_uk})"

    def clean_council_decision_number(self):
        return clean_plain_text(self.cleaned_data["council_decision_number"])

    def clean_contact_name(self):
        return clean_plain_text(self.cleaned_data["contact_name"])

    def clean_contact_phone(self):
        return clean_plain_text(self.cleaned_data.get("contact_phone", ""))

    def clean_message(self):
        return clean_plain_text(self.cleaned_data.get("message", ""))

    def clean_council_decision_date(self):
        value: date = self.cleaned_data["council_decision_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The decision date cannot be in the future."))
        return value

    def clean_decision_file(self):
        return validate_decision_pdf(self.cleaned_data["decision_file"])

    def clean(self):
        cleaned = super().clean()
        if self.errors and self.files.get("decision_file") is not None:
            # The file was fine or not, the browser will not send it again after a re-render.
            self.add_error(None, REFILL_FILE)
        return cleaned


class ApplicationAnswerForm(forms.Form):
    message = forms.CharField(
        label=_("Your answer to the secretariat"), widget=forms.Textarea(attrs={"rows": 5})
    )
    decision_file = forms.FileField(
        label=_("Replace the council decision (PDF)"),
        required=False,
        help_text=_("Optional. PDF, up to %(mb)s MB.") % {"mb": conf.DECISION_MAX_MB},
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def clean_message(self):
        return clean_plain_text(self.cleaned_data["message"])

    def clean_decision_file(self):
        upload = self.cleaned_data.get("decision_file")
        return validate_decision_pdf(upload) if upload else None

    def clean(self):
        cleaned = super().clean()
        if self.errors and self.files.get("decision_file") is not None:
            self.add_error(None, REFILL_FILE)
        return cleaned


class PeriodForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    MAX_DAYS = 366 * 20

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date must not be before the start date."))
            if (end - start).days > self.MAX_DAYS:
                raise forms.ValidationError(_("Choose a period of at most twenty years."))
        return cleaned


class YearForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, years: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", _("All years"))] + [(y, str(y)) for y in years]
