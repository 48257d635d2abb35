import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from problems import selectors
from problems.models import Category, Department, Report


class ReportFilter(django_filters.FilterSet):
    """Filters of the list, the map and the exports (the same data everywhere)."""

    city = django_filters.ModelChoiceFilter(
        label=_("City"),
        queryset=selectors.fileable_cities(),
        to_field_name="slug",
        empty_label=_("All cities"),
    )
    category = django_filters.ModelChoiceFilter(
        label=_("Category"),
        queryset=Category.objects.select_related("parent", "city"),
        method="filter_category",
        empty_label=_("Any category"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Report.Status.choices, empty_label=_("Any status")
    )
    department = django_filters.ModelChoiceFilter(
        label=_("Department"),
        queryset=Department.objects.select_related("city"),
        empty_label=_("Any department"),
    )
    since = django_filters.DateFilter(
        label=_("Filed from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        label=_("Filed until"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Report
        fields = ["city", "category", "status", "department", "since", "until"]

    def __init__(self, *args, city=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.city = city
        if city is not None:
            del self.filters["city"]
            self.filters["category"].queryset = Category.objects.filter(city=city).select_related(
                "parent"
            )
            self.filters["department"].queryset = Department.objects.filter(city=city)
            self.queryset = self.queryset.filter(city=city)

    def filter_category(self, queryset, name, value):
        return queryset.filter(Q(category=value) | Q(category__parent=value))

    @property
    def ordered_qs(self):
        if not self.form.is_valid():
            return self.queryset.none()
        return self.qs.order_by("-created_at", "-id")
