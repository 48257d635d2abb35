import django_filters
from django import forms
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

    def use_catalog(self, catalog) -> None:
        """Render the category and department choices from the city's cached catalog
        (problems.selectors.catalog) instead of two queries; validation still asks the
        database, and only for a chosen value."""
        form = self.form
        category, department = form.fields["category"], form.fields["department"]
        category.widget.choices = [("", category.empty_label)] + [
            (c.pk, str(c)) for c in catalog.categories
        ]
        department.widget.choices = [("", department.empty_label)] + [
            (d.pk, str(d)) for d in catalog.departments
        ]

    def filter_category(self, queryset, name, value):
        # A list of ids rather than a join on the parent: PostgreSQL then walks the newest
        # reports by index and stops after a page, instead of joining every report.
        children = list(
            Category.objects.filter(parent=value).order_by().values_list("pk", flat=True)
        )
        return queryset.filter(category_id__in=[value.pk, *children])

    @property
    def ordered_qs(self):
        if not self.form.is_valid():
            return self.queryset.none()
        return self.qs.order_by("-created_at", "-id")
