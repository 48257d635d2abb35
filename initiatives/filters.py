import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from initiatives.models import Category, District, Initiative, Programme
from initiatives.selectors import PUBLIC_STATUSES
from opencity.cities.models import City


class InitiativeFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Text"))
    city = django_filters.ModelChoiceFilter(
        field_name="programme__city",
        queryset=City.objects.filter(budget_programmes__isnull=False).distinct(),
        label=_("City"),
        empty_label=_("All cities"),
    )
    programme = django_filters.ModelChoiceFilter(
        queryset=Programme.objects.all(), label=_("Programme"), empty_label=_("All programmes")
    )
    category = django_filters.ModelChoiceFilter(
        queryset=Category.objects.none(), label=_("Category"), empty_label=_("All categories")
    )
    district = django_filters.ModelChoiceFilter(
        queryset=District.objects.none(), label=_("District"), empty_label=_("All districts")
    )
    status = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in Initiative.Status if s.value in PUBLIC_STATUSES],
        label=_("Status"),
        empty_label=_("Any status"),
    )
    sort = django_filters.ChoiceFilter(
        method="sort_by",
        label=_("Sort by"),
        choices=[
            ("votes", _("most votes")),
            ("newest", _("newest")),
            ("cost", _("lowest cost")),
            ("-cost", _("highest cost")),
        ],
        empty_label=_("newest"),
    )

    class Meta:
        model = Initiative
        fields = ["q", "city", "programme", "category", "district", "status", "sort"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        programme_id = str(self.data.get("programme") or "")
        categories = Category.objects.select_related("programme")
        districts = District.objects.select_related("programme")
        if programme_id.isdigit():
            categories = categories.filter(programme_id=programme_id)
            districts = districts.filter(programme_id=programme_id)
        # Querysets first: the form is built from the filters on first access.
        self.filters["category"].queryset = categories
        self.filters["district"].queryset = districts
        self.form.fields["q"].widget = forms.TextInput(attrs={"type": "search"})
        if not programme_id.isdigit():
            # Without a programme, names repeat across programmes: say which one.
            for name in ("category", "district"):
                self.form.fields[name].label_from_instance = lambda obj: (
                    f"{obj.programme.title}: {obj.name}"
                )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value) | Q(summary__icontains=value) | Q(address__icontains=value)
        )

    def sort_by(self, queryset, name, value):
        return queryset  # applied in `qs` so that it also works without the parameter

    @property
    def qs(self):
        queryset = super().qs
        order = {
            "votes": ("-vote_total", "submitted_at", "pk"),
            "cost": ("total_cost", "pk"),
            "-cost": ("-total_cost", "pk"),
        }.get(self.form.cleaned_data.get("sort") if self.form.is_valid() else "")
        return queryset.order_by(*(order or ("-submitted_at", "-pk")))
