import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from petitions import selectors
from petitions.models import Petition

SORT_CHOICES = (
    ("signed", _("Most signed")),
    ("newest", _("Newest")),
    ("ending", _("Ending soon")),
)


class PetitionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_text", max_length=200)
    city = django_filters.ModelChoiceFilter(
        label=_("City"),
        queryset=lambda request: selectors.filter_cities(),
        to_field_name="slug",
        empty_label=_("All cities"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[(s.value, s.label) for s in Petition.PUBLIC_STATUSES],
        empty_label=_("Any status"),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=SORT_CHOICES,
        method="filter_sort",
        empty_label=None,
        widget=forms.Select,
    )

    class Meta:
        model = Petition
        fields = ["q", "city", "status", "sort"]

    def filter_text(self, queryset, name, value):
        return selectors.search(queryset, value)

    def filter_sort(self, queryset, name, value):
        return queryset  # applied last, in `ordered_qs`

    @property
    def ordered_qs(self):
        """The filtered, sorted list; nothing when the filters are invalid (the form says
        what is wrong) rather than everything."""
        if not self.form.is_valid():
            return self.queryset.none()
        return selectors.sort(self.qs, self.form.cleaned_data.get("sort") or "signed")
