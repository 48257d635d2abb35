"""Small validation helpers shared by the apps' forms."""

import re

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.translation import gettext_lazy as _

_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_plain_text(value: str) -> str:
    """Plain text only: refuse HTML markup, drop control characters, trim spaces."""
    if _MARKUP.search(value or ""):
        raise forms.ValidationError(_("Please use plain text without HTML markup."))
    return _CONTROL.sub("", value).strip()


class FormRenderer(DjangoTemplates):
    """Django's renderer with our field layout (opencity/core/templates/forms/field.html)."""

    field_template_name = "forms/field.html"


class AmountField(forms.DecimalField):
    """An amount in hryvnias, typed the Ukrainian way or any other: «12 500,00», «12 500»,
    «12500.00». A text input (a number input refuses spaces and commas), a decimal keypad."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {"invalid": _("Please enter an amount such as 12 500,00.")}

    def to_python(self, value):
        if isinstance(value, str):
            value = _SPACES.sub("", value).replace(",", ".")
        return super().to_python(value)
