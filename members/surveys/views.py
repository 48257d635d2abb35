"""Survey pages: the council's fill-in form (/surveys/<token>/, no account) and the
directors' results (/reports/surveys/…, directors and the secretariat only)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from members import report_formats
from members.reports import Report
from members.surveys import conf, results
from members.surveys import render as html_parts
from members.surveys.forms import SurveyForm, initial_from
from members.surveys.models import MatrixAnswer, Question, Response, Wave
from members.surveys.services import invitation_from_token, response_save
from opencity import ratelimit
from opencity.cities import access
from opencity.cities.models import City
from opencity.core import Refused
from opencity.exports import csv_response


# --- the council's form ------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def fill(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except Refused as exc:
        return render(
            request,
            "members/surveys/refused.html",
            {"message": exc.message},
            status=403 if exc.code == "survey_link_forged" else 410,
        )
    wave = invitation.wave
    response = Response.objects.filter(wave=wave, city_id=invitation.city_id).first()
    context: dict[str, Any] = {"invitation": invitation, "wave": wave, "response": response}
    if response is not None and response.status == Response.Status.SUBMITTED:
        context["submitted"] = True
        return render(request, "members/surveys/fill.html", context)
    version = response.version if response is not None else wave.version
    if request.method == "POST":
        if not ratelimit.allow("survey", f"inv{invitation.pk}"):
            return ratelimit.too_many(request)
        submitting = "submit" in request.POST
        form = SurveyForm(request.POST, version=version, submitting=submitting)
        if form.is_valid():
            try:
                response_save(
                    invitation=invitation,
                    answers=form.answers(),
                    submit=submitting,
                    respondent=form.cleaned_data["respondent"],
                )
            except Refused as exc:
                form.add_error(None, exc.message)
            else:
                if submitting:
                    messages.success(request, _("Thank you: your council's answers are submitted."))
                else:
                    messages.success(
                        request,
                        _(
                            "Draft saved. Anyone of your council's staff "
                            "with this link can continue it."
                        ),
                    )
                return redirect(request.path)
    else:
        form = SurveyForm(initial=initial_from(response, version), version=version)
    context.update({"form": form, "version": version, "layout": form.layout()})
    return render(request, "members/surveys/fill.html", context)


# --- results -----------------------------------------------------------------------------------
def results_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Directors and the secretariat: anonymous → sign-in page, anybody else → 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (access.is_director(request.user) or access.is_association_staff(request.user)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class FilterForm(forms.Form):
    oblast = forms.ChoiceField(label=gettext_lazy("Oblast"), required=False)
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    size = forms.ChoiceField(label=gettext_lazy("Population"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("all"))]
        oblasts = City.objects.order_by("oblast_uk").values_list("oblast_uk", flat=True).distinct()
        self.fields["oblast"].choices = everything + [(o, o) for o in oblasts]
        self.fields["tier"].choices = everything + [
            (t, conf.TIER_LABELS[t]) for t, _l in conf.TIERS
        ]
        self.fields["size"].choices = everything + [
            (c, _size_label(lo, hi)) for c, lo, hi in conf.SIZES
        ]

    def filters(self) -> results.Filters:
        if not self.is_valid():
            return results.Filters()
        return results.Filters(
            **{k: self.cleaned_data.get(k) or "" for k in ("oblast", "tier", "size")}
        )


def _size_label(low: int, high: int | None) -> str:
    if high is None:
        return _("%(low)s and more") % {"low": f"{low:,}".replace(",", " ")}
    return f"{low:,}–{high - 1:,}".replace(",", " ")


@results_access
def results_index(request: HttpRequest) -> HttpResponse:
    waves = Wave.objects.select_related("version__questionnaire").order_by("-opens_on")
    return render(request, "members/surveys/results_index.html", {"waves": waves})


def _export(report: Report, fmt: str) -> HttpResponse:
    if fmt == "csv":
        return csv_response(
            report_formats.report_csv_rows(report), filename=f"{report.filename}.csv", private=True
        )
    response = HttpResponse(
        report_formats.to_xlsx(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{report.filename}.xlsx"'
    response["Cache-Control"] = "private, no-store"
    return response


@results_access
def results_wave(request: HttpRequest, pk: int, fmt: str = "") -> HttpResponse:
    wave = get_object_or_404(Wave.objects.select_related("version__questionnaire"), pk=pk)
    form = FilterForm(request.GET or None)
    filters = form.filters()
    if fmt:
        if fmt not in ("csv", "xlsx"):
            return HttpResponse(status=404)
        full = results.wave_results(wave, filters, text_limit=None)
        return _export(results.export_report(full), fmt)
    printing = request.GET.get("print") == "1"
    data = results.wave_results(
        wave, filters, text_limit=None if printing else conf.FREE_TEXT_ON_SCREEN
    )
    labels = [str(label) for _s, label in MatrixAnswer.Status.choices]
    blocks = []
    for block in data.blocks:
        q = block.question
        if q.kind == Question.Kind.MATRIX:
            html = html_parts.heat_html(q.text, data.matrix.get(q.pk, []), labels)
        elif q.kind in Question.TEXT_KINDS:
            html = ""
        else:
            html = html_parts.table_html(block.table)
        chart = html_parts.chart_svg(block.chart, f"chart-{q.pk}") if block.chart else ""
        blocks.append({"block": block, "table": html, "chart": chart})
    query = request.GET.copy()
    query.pop("print", None)
    others = Wave.objects.filter(version__questionnaire=wave.version.questionnaire_id).exclude(
        pk=wave.pk
    )
    return render(
        request,
        "members/surveys/results.html",
        {
            "wave": wave,
            "form": form,
            "data": data,
            "blocks": blocks,
            "rates": [(t, html_parts.table_html(t)) for t in data.report.tables[:2]],
            "printing": printing,
            "query": query.urlencode(),
            "others": others,
        },
    )


@results_access
def results_compare(request: HttpRequest, pk: int, other: int, fmt: str = "") -> HttpResponse:
    wave = get_object_or_404(Wave, pk=pk)
    other_wave = get_object_or_404(
        Wave, pk=other, version__questionnaire=wave.version.questionnaire_id
    )
    form = FilterForm(request.GET or None)
    report = results.comparison(wave, other_wave, form.filters())
    if fmt:
        if fmt not in ("csv", "xlsx"):
            return HttpResponse(status=404)
        return _export(report, fmt)
    table = report.tables[0]
    return render(
        request,
        "members/surveys/compare.html",
        {
            "wave": wave,
            "other": other_wave,
            "form": form,
            "report": report,
            "table_html": html_parts.table_html(table),
            "query": request.GET.urlencode(),
        },
    )
