"""Forms of the service-centre pages (validation only; the rules live in paper.services)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opencity.identity.keys import DocumentType

SCAN_MAX_MB = 20
# PDF, JPEG, PNG: what a service centre's scanner produces, recognised by their first bytes.
SCAN_SIGNATURES = {
    b"%PDF-": ("application/pdf", "pdf"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
}


def scan_type(head: bytes) -> tuple[str, str] | None:
    for magic, kind in SCAN_SIGNATURES.items():
        if head.startswith(magic):
            return kind
    return None


def validate_scan(upload: UploadedFile) -> UploadedFile:
    if upload.size > SCAN_MAX_MB * 1024 * 1024:
        raise ValidationError(
            _("The scan is larger than %(limit)s MB."), params={"limit": SCAN_MAX_MB}, code="size"
        )
    head = upload.read(8)
    upload.seek(0)
    if scan_type(head) is None:
        raise ValidationError(
            _("Upload the scan of the sheets as a PDF, JPEG or PNG file."), code="type"
        )
    return upload


class BatchOpenForm(forms.Form):
    subject = forms.ChoiceField(
        label=_("Petition or public budget"),
        help_text=_("Only those collecting signatures or votes in your city are listed."),
    )
    place = forms.CharField(
        label=_("Place"),
        max_length=200,
        help_text=_("The service centre or polling table: «ЦНАП, вул. Винниченка, 8»."),
    )
    collected_on = forms.DateField(
        label=_("Date on the sheets"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    scan = forms.FileField(
        label=_("Scan of the sheets"),
        validators=[validate_scan],
        help_text=_("PDF, JPEG or PNG, up to %(limit)s MB. Kept private.") % {"limit": SCAN_MAX_MB},
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args, subjects: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].choices = [("", "—"), *subjects]
        self.fields["collected_on"].initial = timezone.localdate()


class LineForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    id_kind = forms.ChoiceField(
        label=_("Document"), choices=DocumentType.CHOICES, initial=DocumentType.RNOKPP
    )
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=20,
        help_text=_("Only a keyed hash of the number is stored, never the number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    address = forms.CharField(label=_("Address"), max_length=255)
    voids = forms.IntegerField(
        label=_("Corrects line (its id in the list), optional"),
        required=False,
        min_value=1,
        help_text=_("The number of a counted line this one replaces: its id in the list."),
    )

    def __init__(self, *args, ballot: bool = False, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        if ballot:
            self.fields["resident"] = forms.BooleanField(
                label=_("The address is in the hromada"), required=False
            )
            self.fields["birth_date"] = forms.DateField(
                label=_("Date of birth"),
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )
            self.fields["picks"] = forms.MultipleChoiceField(
                label=_("Projects marked on the ballot"),
                choices=[(str(p.pk), str(p.title)) for p in projects],
                widget=forms.CheckboxSelectMultiple,
            )


class VoidForm(forms.Form):
    voids = forms.IntegerField(label=_("Line to void (its id in the list)"), min_value=1)
    reason = forms.CharField(
        label=_("Why"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the batch is rejected"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class IdentityForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address of the account"))
    id_kind = forms.ChoiceField(
        label=_("Document"), choices=DocumentType.CHOICES, initial=DocumentType.RNOKPP
    )
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    city = forms.ChoiceField(label=_("City"))

    def __init__(self, *args, cities: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["city"].choices = cities
