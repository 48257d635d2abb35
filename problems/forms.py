from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from opencity import images
from opencity.cities.models import City
from opencity.forms import clean_plain_text
from problems import conf, photos, selectors
from problems.models import Category, Report


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in files if f]
        if len(files) > conf.MAX_PHOTOS:
            raise ValidationError(
                _("Attach at most %(n)d photos.") % {"n": conf.MAX_PHOTOS}, code="too_many"
            )
        errors = []
        for upload in files:
            try:
                photos.check_upload(upload)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return files


class CityChoiceForm(forms.Form):
    city = forms.ModelChoiceField(
        label=_("City"),
        queryset=selectors.fileable_cities(),
        to_field_name="slug",
        empty_label=_("Choose a city"),
    )


class ReportForm(forms.Form):
    """Filing a report. Works without JavaScript: the place is a typed address or landmark,
    or a point (the map fills latitude and longitude)."""

    category = forms.ChoiceField(
        label=_("Category"),
        error_messages={"invalid_choice": _("Choose a category from the list.")},
    )
    title = forms.CharField(
        label=_("What is the problem?"),
        min_length=5,
        max_length=conf.TITLE_MAX_LENGTH,
        help_text=_("A short title: 5 to 200 characters, e.g. “Deep pothole at the crossing”."),
    )
    description = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=conf.DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Optional: what exactly, since when, how dangerous. Plain text."),
    )
    address = forms.CharField(
        label=_("Address or landmark"),
        required=False,
        max_length=conf.ADDRESS_MAX_LENGTH,
        help_text=_(
            "E.g. “Lesi Ukrainky St 5, by the bus stop”. Needed if you do not "
            "mark the place on the map."
        ),
    )
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lon = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    photos = MultiplePhotoField(
        label=_("Photos"),
        required=False,
        help_text=images.photos_help_text(conf.MAX_PHOTOS, conf.PHOTO_MAX_BYTES),
        widget=MultipleFileInput(attrs={"accept": images.ACCEPT}),
    )
    show_name = forms.BooleanField(
        label=_("Show my name on the report"),
        required=False,
        help_text=_(
            "Otherwise the report is anonymous to the public; the city still sees who filed it."
        ),
    )
    not_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, city: City, **kwargs):
        super().__init__(*args, **kwargs)
        self.city = city
        self.area = selectors.area_of(city)
        self.leaves = {str(c.pk): c for c in selectors.fileable_categories(city)}
        choices: list = [("", _("Choose a category"))]
        for parent, leaves in selectors.category_tree(city):
            group = [(str(c.pk), c.name) for c in leaves if str(c.pk) in self.leaves]
            if group:
                choices.append((parent.name, group))
        self.fields["category"].choices = choices

    def clean_category(self) -> Category:
        value = self.cleaned_data["category"]
        category = self.leaves.get(value)
        if category is None:
            raise ValidationError(_("Choose a category from the list."), code="unknown")
        return category

    def clean_title(self) -> str:
        return clean_plain_text(self.cleaned_data["title"])

    def clean_description(self) -> str:
        return clean_plain_text(self.cleaned_data["description"])

    def clean_address(self) -> str:
        return clean_plain_text(self.cleaned_data["address"])

    def clean(self):
        data = super().clean()
        lat, lon = data.get("lat"), data.get("lon")
        if (lat is None) != (lon is None):
            raise ValidationError(
                _("Give both latitude and longitude, or neither."), code="half_point"
            )
        if lat is not None and self.area is not None and not self.area.contains(lat, lon):
            self.add_error(
                "lat",
                ValidationError(
                    _("This point is outside %(city)s. Check the place on the map.")
                    % {"city": self.city.full_name},
                    code="outside",
                ),
            )
        if lat is None and not data.get("address") and "address" not in self.errors:
            self.add_error(
                "address",
                ValidationError(
                    _("Type an address or landmark, or mark the place on the map."),
                    code="no_place",
                ),
            )
        return data


class StatusForm(forms.Form):
    """The clerk's status change in admin."""

    status = forms.ChoiceField(label=_("New status"), choices=Report.Status.choices)
    template = forms.ModelChoiceField(
        label=_("Reply template"), queryset=None, required=False, empty_label=_("—")
    )
    reply = forms.CharField(
        label=_("Public answer"),
        required=False,
        max_length=conf.DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Shown on the report's page and e-mailed to its followers."),
    )
    reason = forms.CharField(
        label=_("Reason (required when rejecting)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    duplicate_of = forms.IntegerField(
        label=_("Number of the original report (for a duplicate)"), required=False, min_value=1
    )

    def __init__(self, *args, report: Report, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report
        self.fields["template"].queryset = report.city.problem_reply_templates.all()

    def clean(self):
        data = super().clean()
        if not data.get("reply") and data.get("template"):
            data["reply"] = data["template"].text
        if data.get("status") == Report.Status.REJECTED and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for rejecting the report."))
        original = None
        if data.get("status") == Report.Status.DUPLICATE:
            original = Report.objects.filter(
                pk=data.get("duplicate_of") or 0, city_id=self.report.city_id
            ).first()
            if original is None or original.pk == self.report.pk:
                self.add_error("duplicate_of", _("Give the number of another report of this city."))
        data["original"] = original
        return data


class AssignForm(forms.Form):
    department = forms.ModelChoiceField(label=_("Department"), queryset=None)

    def __init__(self, *args, report: Report, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = report.city.departments.all()


class HideForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class FixedForm(forms.Form):
    fixed = forms.TypedChoiceField(
        label=_("Is it fixed?"),
        choices=[("yes", _("Yes, it is fixed")), ("no", _("No, it is not fixed"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
