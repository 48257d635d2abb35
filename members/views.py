from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from members.filters import CityFilter
from members.selectors import cities_with_membership, city_membership_status


def city_list(request):
    city_filter = CityFilter(request.GET, queryset=cities_with_membership().order_by("name_uk"))
    page = Paginator(city_filter.qs, 50).get_page(request.GET.get("page"))
    return render(request, "members/city_list.html", {"filter": city_filter, "page": page})


def city_detail(request, slug):
    city = get_object_or_404(cities_with_membership(), slug=slug)
    return render(
        request,
        "members/city_detail.html",
        {"city": city, "status": city_membership_status(city)},
    )
