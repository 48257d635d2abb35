import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from academy.models import LANGUAGE_CHOICES, Course, Expert, Session, Topic
from members.models import EProduct
from opencity.cities.models import City


def _session_cities(request=None):
    return City.objects.filter(academy_sessions__isnull=False).distinct().order_by("name_uk")


class SessionFilter(django_filters.FilterSet):
    WHEN_CHOICES = [("upcoming", _("Upcoming")), ("past", _("Past"))]

    topic = django_filters.ModelChoiceFilter(
        label=_("Topic"),
        field_name="course__topics",
        queryset=Topic.objects.all(),
        empty_label=_("All topics"),
    )
    format = django_filters.ChoiceFilter(
        label=_("Format"),
        field_name="course__format",
        choices=Course.Format.choices,
        empty_label=_("Any format"),
    )
    city = django_filters.ModelChoiceFilter(
        label=_("City"), queryset=_session_cities, empty_label=_("All cities")
    )
    when = django_filters.ChoiceFilter(
        label=_("When"), choices=WHEN_CHOICES, method="filter_when", empty_label=_("Any time")
    )
    free_seats = django_filters.BooleanFilter(
        label=_("Only with free seats"),
        method="filter_free_seats",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Session
        fields = []

    def filter_when(self, queryset, name, value):
        now = timezone.now()
        if value == "past":
            return queryset.filter(ends_at__lte=now).order_by("-starts_at", "-pk")
        return queryset.filter(ends_at__gt=now)

    def filter_free_seats(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(
            free_seats__gt=0,
            waiting=0,
            is_cancelled=False,
            registration_deadline__gt=timezone.now(),
        )


class ExpertFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Name or keyword"), method="search")
    topic = django_filters.ModelChoiceFilter(
        label=_("Expertise area"),
        field_name="expertise",
        queryset=Topic.objects.all(),
        empty_label=_("All areas"),
    )
    language = django_filters.ChoiceFilter(
        label=_("Language"),
        choices=LANGUAGE_CHOICES,
        method="filter_language",
        empty_label=_("Any language"),
    )
    city = django_filters.ModelChoiceFilter(
        label=_("Worked with city"),
        field_name="cities",
        queryset=lambda request: (
            City.objects.filter(academy_experts__isnull=False).distinct().order_by("name_uk")
        ),
        empty_label=_("All cities"),
    )
    product = django_filters.ModelChoiceFilter(
        label=_("E-product"),
        field_name="products",
        queryset=lambda request: EProduct.objects.filter(experts__isnull=False).distinct(),
        empty_label=_("All e-products"),
    )

    class Meta:
        model = Expert
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(full_name__icontains=value) | Q(headline__icontains=value) | Q(bio__icontains=value)
        )

    def filter_language(self, queryset, name, value):
        # Codes are two letters from a fixed list, stored comma-separated.
        return queryset.filter(languages__contains=value)
