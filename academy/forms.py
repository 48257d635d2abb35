from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from academy import conf
from academy.models import LANGUAGE_CHOICES, Expert, Topic
from members.models import EProduct
from members.selectors import member_cities
from opencity.cities.models import City
from opencity.forms import clean_plain_text


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How useful was the training?"),
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("5 is the best."),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What was useful, what should change?"),
    )

    def clean_comment(self):
        return clean_plain_text(self.cleaned_data["comment"])


class AttendanceForm(forms.Form):
    attended = forms.TypedMultipleChoiceField(
        label=_("Attended"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, roster=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attended"].choices = [
            (registration.pk, registration.user.full_name) for registration in roster
        ]
        self.fields["attended"].initial = [r.pk for r in roster if r.attended]


class ExpertProfileForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=_("Languages"),
        choices=LANGUAGE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Expert
        fields = [
            "full_name",
            "headline",
            "bio",
            "photo",
            "expertise",
            "languages",
            "cities",
            "products",
            "email",
            "phone",
            "website",
        ]
        widgets = {
            "expertise": forms.CheckboxSelectMultiple,
            "products": forms.CheckboxSelectMultiple,
            "photo": forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        }
        help_texts = {"cities": _("Hold Ctrl (⌘ on a Mac) to choose several.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expertise"].queryset = Topic.objects.all()
        self.fields["products"].queryset = EProduct.objects.all()
        # All 1,469 hromadas are too many for one select: offer member cities, the cities
        # the academy has trained, and those already on the profile.
        ids = set(member_cities().values_list("pk", flat=True))
        ids |= set(City.objects.filter(academy_sessions__isnull=False).values_list("pk", flat=True))
        if self.instance.pk:
            ids |= set(self.instance.cities.values_list("pk", flat=True))
        self.fields["cities"].queryset = City.objects.filter(pk__in=ids).order_by("name_uk")
        if self.instance.pk:
            self.initial["languages"] = self.instance.language_codes

    def clean_full_name(self):
        value = clean_plain_text(self.cleaned_data["full_name"])
        if not value:
            raise forms.ValidationError(_("Please enter a name."))
        return value

    def clean_headline(self):
        return clean_plain_text(self.cleaned_data["headline"])

    def clean_bio(self):
        return clean_plain_text(self.cleaned_data["bio"])

    def clean_phone(self):
        return clean_plain_text(self.cleaned_data["phone"])

    def clean_languages(self):
        return ",".join(self.cleaned_data["languages"])

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if not photo or not hasattr(photo, "content_type"):
            return photo  # unchanged or cleared
        if photo.size > conf.EXPERT_PHOTO_MAX_BYTES:
            raise forms.ValidationError(_("The photo is too large: at most 2 MB, please."))
        try:
            photo.seek(0)
            with Image.open(photo) as image:
                image_format = image.format
                width, height = image.size
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise forms.ValidationError(_("Please upload a JPEG, PNG or WebP image.")) from None
        if image_format not in conf.EXPERT_PHOTO_FORMATS:
            raise forms.ValidationError(_("Please upload a JPEG, PNG or WebP image."))
        if max(width, height) > conf.EXPERT_PHOTO_MAX_SIDE:
            raise forms.ValidationError(_("The photo is too large: at most 4000 pixels a side."))
        photo.seek(0)
        # The stored name's extension follows the real format, not the uploaded name.
        photo.name = f"photo.{conf.EXPERT_PHOTO_FORMATS[image_format]}"
        return photo
