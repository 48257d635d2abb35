from django import forms
from django.utils.translation import gettext_lazy as _

from opencity.forms import clean_plain_text
from petitions import conf, selectors
from petitions.models import Petition


class PetitionForm(forms.Form):
    city = forms.ModelChoiceField(
        label=_("City council"),
        queryset=selectors.fileable_cities(),
        to_field_name="slug",
        empty_label=_("Choose a city"),
        help_text=_("The council your petition is addressed to."),
    )
    title = forms.CharField(
        label=_("Title"),
        min_length=10,
        max_length=conf.TITLE_MAX_LENGTH,
        help_text=_("A short, clear demand: 10 to 200 characters."),
    )
    text = forms.CharField(
        label=_("Text of the petition"),
        min_length=50,
        max_length=conf.TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=_(
            "What you ask the council to do, and why. Plain text, 50 to 10,000 characters."
        ),
    )

    def clean_title(self):
        return clean_plain_text(self.cleaned_data["title"])

    def clean_text(self):
        return clean_plain_text(self.cleaned_data["text"])


class SignForm(forms.Form):
    notify_on_answer = forms.BooleanField(
        label=_("E-mail me the council's response"), required=False, initial=True
    )


class RejectForm(forms.Form):
    ground = forms.ChoiceField(
        label=_("Ground for rejection"), choices=Petition.RejectionGround.choices
    )
    comment = forms.CharField(
        label=_("Comment to the author"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean_comment(self):
        return clean_plain_text(self.cleaned_data["comment"])


class RespondForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=Petition.Decision.choices)
    text = forms.CharField(
        label=_("Official response"),
        min_length=20,
        max_length=conf.TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 10}),
    )

    def clean_text(self):
        return clean_plain_text(self.cleaned_data["text"])
