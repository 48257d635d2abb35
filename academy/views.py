from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from academy import access, ical, selectors, services
from academy.filters import ExpertFilter, SessionFilter
from academy.forms import AttendanceForm, ExpertProfileForm, FeedbackForm
from academy.models import Expert, Registration, Session
from opencity.core import Refused
from opencity.core.web import refusal_to_message
from opencity.ratelimit import allow_request, too_many


# --- catalogue ------------------------------------------------------------------------------
def index(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    if not data.get("when"):
        data["when"] = "upcoming"
    session_filter = SessionFilter(data, queryset=selectors.catalogue_sessions())
    page = Paginator(session_filter.qs, 20).get_page(request.GET.get("page"))
    return render(request, "academy/index.html", {"filter": session_filter, "page": page})


def _session_or_404(pk: int) -> Session:
    try:
        return selectors.session_detail(pk)
    except Session.DoesNotExist:
        raise Http404 from None


def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_or_404(pk)
    registration = selectors.active_registration(session, request.user)
    context = {
        "session": session,
        "course": session.course,
        "registration": registration,
        "waitlist_place": registration and selectors.waitlist_place(registration),
        "can_mark_attendance": access.can_mark_attendance(request.user, session),
        "in_priority_window": session.in_priority_window(),
        "registration_open": session.registration_open(),
    }
    return render(request, "academy/session_detail.html", context)


def _ics_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def session_ics(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_or_404(pk)
    registration = selectors.active_registration(session, request.user)
    location = ""
    if registration is not None and registration.status == Registration.Status.SEATED:
        location = ", ".join(part for part in (session.venue, session.meeting_url) if part)
    elif session.city is not None:
        location = session.city.name
    text = ical.calendar([ical.session_event(session, location=location)])
    return _ics_response(text, f"academy-session-{session.pk}.ics")


def calendar_feed(request: HttpRequest) -> HttpResponse:
    """Upcoming sessions for calendar apps; public, so no venue or meeting link."""
    events = [
        ical.session_event(session, location=session.city.name if session.city else "")
        for session in selectors.upcoming_sessions_feed()
    ]
    text = ical.calendar(events, name=_("E-City Academy"))
    response = _ics_response(text, "academy.ics")
    response["Content-Disposition"] = 'inline; filename="academy.ics"'
    return response


# --- registration ---------------------------------------------------------------------------
@login_required
@require_POST
def register(request: HttpRequest, pk: int) -> HttpResponse:
    if not allow_request("register", request):
        return too_many(request)
    try:
        registration = services.register(session_id=pk, user=request.user)
    except Session.DoesNotExist:
        raise Http404 from None
    except Refused as error:
        refusal_to_message(request, error)
    else:
        if registration.status == Registration.Status.SEATED:
            messages.success(request, _("You are registered. See you at the training!"))
        else:
            messages.info(
                request,
                _(
                    "The session is full, so you are on the waitlist. We will e-mail you if a "
                    "seat frees up."
                ),
            )
    return redirect("academy:session_detail", pk=pk)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    registration = get_object_or_404(Registration, pk=pk, user=request.user)
    try:
        services.registration_cancel(registration_id=registration.pk, user=request.user)
    except Refused as error:
        refusal_to_message(request, error)
    else:
        messages.success(request, _("Your registration is cancelled."))
    if request.POST.get("next") == "mine":
        return redirect("academy:my")
    return redirect(registration.session)


@login_required
def my_registrations(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "academy/my_registrations.html",
        {"registrations": selectors.registrations_of(request.user)},
    )


@login_required
def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    registration = get_object_or_404(
        Registration.objects.select_related("session__course"), pk=pk, user=request.user
    )
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.feedback_submit(
                registration=registration,
                user=request.user,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except Refused as error:
            refusal_to_message(request, error)
        else:
            messages.success(request, _("Thank you for your feedback."))
        return redirect("academy:my")
    if not registration.attended:
        raise Http404
    return render(request, "academy/feedback.html", {"form": form, "registration": registration})


# --- attendance -----------------------------------------------------------------------------
@login_required
def session_roster(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(Session.objects.select_related("course"), pk=pk)
    if not access.can_mark_attendance(request.user, session):
        raise Http404
    people = list(selectors.roster(session))
    seated = [r for r in people if r.status == Registration.Status.SEATED]
    form = AttendanceForm(request.POST or None, roster=seated)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.attendance_mark(
                session=session,
                attended_ids=set(form.cleaned_data["attended"]),
                actor=request.user,
            )
        except Refused as error:
            refusal_to_message(request, error)
        else:
            messages.success(
                request, _("Attendance saved (%(count)s changed).") % {"count": changed}
            )
        return redirect("academy:session_roster", pk=session.pk)
    waiting = [r for r in people if r.status == Registration.Status.WAITLISTED]
    return render(
        request,
        "academy/roster.html",
        {"session": session, "form": form, "seated": seated, "waiting": waiting},
    )


# --- certificates ---------------------------------------------------------------------------
def certificate_lookup(request: HttpRequest) -> HttpResponse:
    code = services.normalise_code(request.GET.get("code", ""))
    if code:
        return redirect("academy:certificate_check", code=code)
    return render(request, "academy/certificate_lookup.html")


def certificate_check(request: HttpRequest, code: str) -> HttpResponse:
    certificate = selectors.certificate_by_code(services.normalise_code(code))
    if certificate is None:
        return render(request, "academy/certificate_unknown.html", {"code": code}, status=404)
    response = render(request, "academy/certificate_check.html", {"certificate": certificate})
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
def certificate_download(request: HttpRequest, code: str) -> HttpResponse:
    certificate = selectors.certificate_by_code(services.normalise_code(code))
    if certificate is None or certificate.registration.user_id != request.user.pk:
        raise Http404
    if not certificate.pdf:
        messages.info(request, _("Your certificate is being prepared. Please try again shortly."))
        return redirect("academy:my")
    return FileResponse(
        certificate.pdf.open("rb"),
        as_attachment=True,
        filename=f"certificate-{certificate.code}.pdf",
        content_type="application/pdf",
    )


# --- experts --------------------------------------------------------------------------------
def expert_list(request: HttpRequest) -> HttpResponse:
    expert_filter = ExpertFilter(request.GET, queryset=selectors.public_experts(), request=request)
    page = Paginator(expert_filter.qs, 24).get_page(request.GET.get("page"))
    return render(request, "academy/expert_list.html", {"filter": expert_filter, "page": page})


def expert_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        expert = selectors.expert_detail(slug)
    except Expert.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "academy/expert_detail.html",
        {
            "expert": expert,
            "is_own": request.user.is_authenticated and expert.user_id == request.user.pk,
        },
    )


@login_required
def expert_edit(request: HttpRequest, slug: str) -> HttpResponse:
    expert = get_object_or_404(Expert, slug=slug)
    if expert.user_id != request.user.pk:
        raise Http404
    form = ExpertProfileForm(request.POST or None, request.FILES or None, instance=expert)
    if request.method == "POST" and form.is_valid():
        services.expert_profile_update(expert=expert, editor=request.user, form=form)
        messages.success(request, _("Your profile is saved."))
        return redirect(reverse("academy:expert_detail", args=[expert.slug]))
    return render(request, "academy/expert_edit.html", {"form": form, "expert": expert})
