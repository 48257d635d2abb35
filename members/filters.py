import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import EProduct, MembershipEvent
from opencity.cities.models import City


def oblast_choices():
    return [
        (value, value)
        for value in City.objects.order_by("oblast_uk")
        .values_list("oblast_uk", flat=True)
        .distinct()
    ]


class CityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    oblast = django_filters.ChoiceFilter(
        label=_("Oblast"), field_name="oblast_uk", choices=oblast_choices, empty_label=_("All")
    )
    status = django_filters.ChoiceFilter(
        label=_("Membership"),
        field_name="membership_status",
        choices=MembershipEvent.Status.choices,
        empty_label=_("Members only"),
        method="filter_status",
    )

    eservice = django_filters.ModelChoiceFilter(
        label=_("Runs e-service"),
        queryset=EProduct.objects.order_by("name"),
        to_field_name="slug",
        empty_label=_("Any"),
        method="filter_eservice",
    )

    ogp = django_filters.ChoiceFilter(
        label=_("OGP Local"),
        choices=[("yes", _("takes part"))],
        empty_label=_("Any"),
        method="filter_ogp",
    )

    class Meta:
        model = City
        fields = []

    def filter_ogp(self, queryset, name, value):
        return queryset.filter(ogp__isnull=False)

    def filter_eservice(self, queryset, name, value):
        return queryset.filter(eservices__product=value)

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(name_uk__icontains=value) | Q(name_en__icontains=value) | Q(katottg__iexact=value)
        )

    def filter_status(self, queryset, name, value):
        return queryset.filter(membership_status=value)

    @property
    def qs(self):
        queryset = super().qs
        data = self.form.cleaned_data
        if not data.get("status") and not data.get("q") and not data.get("ogp"):
            # OGP Local takes in non-members too, so that filter looks at every hromada.
            queryset = queryset.filter(membership_status=MembershipEvent.Status.MEMBER)
        return queryset


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    category = django_filters.ChoiceFilter(
        label=_("Category"), choices=EProduct.Category.choices, empty_label=_("All")
    )

    class Meta:
        model = EProduct
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(name__icontains=value)
            | Q(description__icontains=value)
            | Q(developer__icontains=value)
        )
