from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members import conf, report_formats, reports
from members.filters import CityFilter, ProductFilter
from members.forms import ApplicationAnswerForm, ApplicationForm, PeriodForm, YearForm
from members.models import EProduct, MembershipApplication
from members.report_formats import report_csv_rows
from members.selectors import (
    applications_of,
    cities_with_membership,
    city_list_queryset,
    city_profile,
    product_with_adoptions,
    products_catalogue,
)
from members.services import application_resubmit, application_submit
from opencity import ratelimit
from opencity import reports as opencity_reports
from opencity.cities import access
from opencity.core import Refused
from opencity.core.web import refusal_to_form
from opencity.exports import csv_response


# --- public registry and catalogue -------------------------------------------------------------
def city_list(request: HttpRequest) -> HttpResponse:
    city_filter = CityFilter(request.GET, queryset=city_list_queryset())
    page = Paginator(city_filter.qs, 50).get_page(request.GET.get("page"))
    return render(request, "members/city_list.html", {"filter": city_filter, "page": page})


def city_detail(request: HttpRequest, slug: str) -> HttpResponse:
    city = get_object_or_404(cities_with_membership(), slug=slug)
    context = {"city": city, **city_profile(city)}
    context["status"] = context["membership"].status
    if access.is_association_staff(request.user):
        context["contact"] = getattr(city, "contact", None)
        context["show_contact"] = True
    return render(request, "members/city_detail.html", context)


def product_list(request: HttpRequest) -> HttpResponse:
    product_filter = ProductFilter(request.GET, queryset=products_catalogue())
    page = Paginator(product_filter.qs, 30).get_page(request.GET.get("page"))
    return render(request, "members/product_list.html", {"filter": product_filter, "page": page})


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        product = product_with_adoptions(slug)
    except EProduct.DoesNotExist:
        raise Http404 from None
    context = {"product": product, "sections": opencity_reports.sections("eproduct", product)}
    return render(request, "members/product_detail.html", context)


# --- joining ---------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def application_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not ratelimit.allow_request("file", request):
            return ratelimit.too_many(request)
        form = ApplicationForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                application = application_submit(applicant=request.user, **data)
            except Refused as exc:
                refusal_to_form(form, exc)
            else:
                messages.success(
                    request, _("Thank you: the secretariat has your application and will reply.")
                )
                return redirect("members:application_detail", pk=application.pk)
    else:
        form = ApplicationForm(initial={"contact_email": request.user.email})
    return render(
        request, "members/application_form.html", {"form": form, "max_mb": conf.DECISION_MAX_MB}
    )


def _application_for(request: HttpRequest, pk: int) -> MembershipApplication:
    """The applicant or association staff; everybody else gets 404 (no existence leak)."""
    application = get_object_or_404(MembershipApplication.objects.select_related("city"), pk=pk)
    if application.applicant_id != request.user.pk and not access.is_association_staff(
        request.user
    ):
        raise Http404
    return application


@login_required
@require_http_methods(["GET", "POST"])
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    application = _application_for(request, pk)
    may_answer = (
        application.applicant_id == request.user.pk
        and application.status == MembershipApplication.Status.INFO_REQUESTED
    )
    form = None
    if may_answer:
        if request.method == "POST":
            form = ApplicationAnswerForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    application_resubmit(
                        application=application,
                        applicant=request.user,
                        message=form.cleaned_data["message"],
                        decision_file=form.cleaned_data["decision_file"],
                    )
                except Refused as exc:
                    refusal_to_form(form, exc)
                else:
                    messages.success(request, _("Your answer has been sent to the secretariat."))
                    return redirect("members:application_detail", pk=application.pk)
        else:
            form = ApplicationAnswerForm()
    elif request.method == "POST":
        # Answered by RefusedMiddleware: a 409 page that says why.
        raise Refused(_("The secretariat has not asked for more information."), code="status")
    return render(
        request,
        "members/application_detail.html",
        {"application": application, "form": form},
    )


@login_required
def application_mine(request: HttpRequest) -> HttpResponse:
    return render(
        request, "members/application_list.html", {"applications": applications_of(request.user)}
    )


@login_required
def application_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The uploaded council decision: only to its applicant and association staff."""
    application = _application_for(request, pk)
    if not application.decision_file:
        raise Http404
    try:
        handle = application.decision_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        content_type="application/pdf",
        as_attachment=True,
        filename=f"decision-{application.city.slug}-{application.pk}.pdf",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- directors' reports ------------------------------------------------------------------------
ViewFunction = Callable[..., HttpResponse]


def director_required(view: ViewFunction) -> ViewFunction:
    """Directors (and superusers) only: anonymous → sign-in page, anybody else → 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not access.is_director(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@director_required
def report_index(request: HttpRequest) -> HttpResponse:
    return render(request, "members/reports/index.html", {"reports": reports.REPORTS})


def _default_period(slug: str) -> tuple[date, date]:
    today = timezone.localdate()
    if slug == "membership":
        return date(today.year - 4, 1, 1), today
    return date(today.year, 1, 1), today


def _build(request: HttpRequest, slug: str) -> tuple[forms.Form | None, Any]:
    """(form, report or None) from the query string; invalid input → the form's errors."""
    if slug in reports.PERIOD_REPORTS:
        start, end = _default_period(slug)
        data = request.GET if "date_from" in request.GET else None
        form = PeriodForm(data, initial={"date_from": start, "date_to": end})
        if data is not None:
            if not form.is_valid():
                return form, None
            start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        builder = {
            "membership": reports.membership_report,
            "period": reports.period_report,
            "activity": reports.activity_report,
        }[slug]
        return form, builder(start, end)
    if slug == "dues":
        form = YearForm(request.GET or None, years=reports.dues_years())
        year = form.cleaned_data["year"] if form.is_bound and form.is_valid() else None
        if form.is_bound and not form.is_valid():
            return form, None
        return form, reports.dues_report(year)
    return None, reports.eservices_report()


@director_required
def report_detail(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in reports.REPORTS:
        raise Http404
    form, report = _build(request, slug)
    printing = request.GET.get("print") == "1"
    tables = []
    if report is not None:
        for n, table in enumerate(report.tables):
            rows = table.rows
            page = None
            if table.paginate and not printing:
                page = Paginator(rows, conf.REPORT_PAGE_SIZE).get_page(request.GET.get("page"))
                rows = page.object_list
            tables.append(
                {
                    "id": f"table-{n}",
                    "table": table,
                    "page": page,
                    "head": report_formats.head_html(table),
                    "rows": report_formats.rows_html(table, rows),
                    "totals": report_formats.cells_html(table, table.totals or []),
                }
            )
    query = request.GET.copy()
    for key in ("page", "print"):
        query.pop(key, None)
    return render(
        request,
        "members/reports/report.html",
        {
            "slug": slug,
            "title": reports.REPORTS[slug],
            "form": form,
            "report": report,
            "tables": tables,
            "chart": report_formats.chart_geometry(report.chart)
            if report and report.chart
            else None,
            "printing": printing,
            "query": query.urlencode(),
        },
    )


@director_required
def report_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    if slug not in reports.REPORTS or fmt not in ("csv", "xlsx"):
        raise Http404
    _form, report = _build(request, slug)
    if report is None:
        return redirect(f"{reverse('members:report', args=[slug])}?{request.GET.urlencode()}")
    if fmt == "csv":
        return csv_response(
            report_csv_rows(report), filename=f"{report.filename}.csv", private=True
        )
    response = HttpResponse(
        report_formats.to_xlsx(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{report.filename}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response
