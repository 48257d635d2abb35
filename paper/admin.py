"""The service centre's pages in Django admin: open a batch, enter its lines one by one (a
duplicate is refused on its line, the form keeps what was typed), a second clerk confirms
or rejects it, corrections void counted lines. A clerk sees only their own city's batches
(404 for another city's); the scans are served only through the permission check here."""

from __future__ import annotations

from django.contrib import admin
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from initiatives.models import Initiative, Programme
from opencity.accounts.models import User
from opencity.cities import access
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.web import refusal_to_form
from paper import services
from paper.forms import BatchOpenForm, IdentityForm, LineForm, RejectForm, VoidForm, scan_type
from paper.models import Batch, Line
from petitions.models import Petition
from petitions.services import SIGNABLE_STATUSES

ROLES = access.PAPER_ROLES


@admin.register(Batch)
class BatchAdmin(CityScopedAdmin):
    view_roles = ROLES
    change_roles = ROLES
    add_roles = ROLES
    list_display = ("__str__", "subject", "status", "entered_by", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("petition", "programme", "entered_by")
    search_fields = ("place",)

    @admin.display(description=_("petition or public budget"))
    def subject(self, batch: Batch) -> str:
        return str(batch.petition or batch.programme)

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return access.scope_to_user_cities(queryset, request.user, "city", roles=ROLES)

    def has_delete_permission(self, request, obj=None):
        return False  # batches are rejected or corrected, never deleted

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("open/", view(self.open_view), name="paper_batch_open"),
            path("identity/", view(self.identity_view), name="paper_batch_identity"),
            path("<int:pk>/line/", view(self.line_view), name="paper_batch_line"),
            path("<int:pk>/void/", view(self.void_view), name="paper_batch_void"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="paper_batch_confirm"),
            path("<int:pk>/reject/", view(self.reject_view), name="paper_batch_reject"),
            path("<int:pk>/scan/", view(self.scan_view), name="paper_batch_scan"),
            *super().get_urls(),
        ]

    # --- helpers ---------------------------------------------------------------------------

    def _batch(self, request: HttpRequest, pk: int) -> Batch:
        queryset = self.get_queryset(request).select_related(
            "petition", "programme", "entered_by", "decided_by", "city"
        )
        return self.get_object_for_staff(request, pk, roles=ROLES, queryset=queryset)

    def _page_url(self, batch: Batch) -> str:
        return reverse("admin:paper_batch_change", args=[batch.pk])

    def _cities(self, request) -> list[City]:
        cities = City.objects.order_by("name_uk")
        if not access.is_association_staff(request.user):
            cities = cities.filter(pk__in=access.city_ids_for(request.user, ROLES))
        return list(cities)

    def _subjects(self, request) -> list[tuple[str, str]]:
        city_ids = [city.pk for city in self._cities(request)]
        today = timezone.localdate()
        petitions = Petition.objects.filter(city_id__in=city_ids, status__in=SIGNABLE_STATUSES)
        choices = [
            (f"p{p.pk}", gettext("Petition: %(title)s") % {"title": p.title})
            for p in petitions.order_by("-published_at")[:200]
        ]
        programmes = Programme.objects.filter(
            city_id__in=city_ids, voting_opens__lte=today, voting_closes__gte=today
        )
        choices += [
            (f"b{p.pk}", gettext("Public budget: %(title)s") % {"title": p.title})
            for p in programmes.order_by("-voting_opens")
        ]
        return choices

    def _page(self, request, batch: Batch, *, line_form=None, status: int = 200):
        ballot = batch.kind == Batch.Kind.BALLOTS
        projects = (
            Initiative.objects.filter(
                programme_id=batch.programme_id, status__in=Initiative.ON_BALLOT
            ).order_by("category_id", "title")
            if ballot
            else []
        )
        if line_form is None and batch.status == Batch.Status.ENTERING:
            line_form = LineForm(ballot=ballot, projects=projects)
        lines = list(
            Line.objects.filter(batch=batch)
            .select_related("voids")
            .prefetch_related("initiatives")
            .order_by("number")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": str(batch),
            "opts": self.model._meta,
            "batch": batch,
            "lines": lines,
            "line_form": line_form,
            "may_decide": batch.status == Batch.Status.ENTERING
            and batch.entered_by_id != request.user.pk
            and not any(line.entered_by_id == request.user.pk for line in lines),
            "counted": sum(1 for line in lines if line.is_counted),
        }
        return TemplateResponse(request, "admin/paper/batch.html", context, status=status)

    # --- pages ------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:paper_batch_open"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            raise Http404 from None
        return self._page(request, self._batch(request, pk))

    def open_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404
        form = BatchOpenForm(
            request.POST or None, request.FILES or None, subjects=self._subjects(request)
        )
        if request.method == "POST" and form.is_valid():
            subject = form.cleaned_data["subject"]
            kwargs: dict = {}
            if subject.startswith("p"):
                kwargs["petition"] = get_object_or_404(Petition, pk=int(subject[1:]))
            else:
                kwargs["programme"] = get_object_or_404(Programme, pk=int(subject[1:]))
            try:
                batch = services.batch_open(
                    clerk=request.user,
                    place=form.cleaned_data["place"],
                    collected_on=form.cleaned_data["collected_on"],
                    scan=form.cleaned_data["scan"],
                    **kwargs,
                )
            except Refused as exc:
                refusal_to_form(form, exc)
            else:
                self.message_user(request, gettext("The batch is open: enter its lines."))
                return HttpResponseRedirect(self._page_url(batch))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Open a batch of paper sheets"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/paper/open.html", context)

    def line_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = self._batch(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._page_url(batch))
        ballot = batch.kind == Batch.Kind.BALLOTS
        projects = Initiative.objects.filter(
            programme_id=batch.programme_id, status__in=Initiative.ON_BALLOT
        )
        form = LineForm(request.POST, ballot=ballot, projects=projects if ballot else ())
        if form.is_valid():
            data = form.cleaned_data
            try:
                voids = None
                if data.get("voids"):
                    voids = Line.objects.filter(pk=data["voids"], batch__city=batch.city).first()
                    if voids is None:
                        raise Refused(_("There is no such line."), code="voids", field="voids")
                line = services.line_enter(
                    clerk=request.user,
                    batch=batch,
                    full_name=data["full_name"],
                    id_kind=data["id_kind"],
                    id_number=data["id_number"],
                    address=data["address"],
                    resident=data.get("resident", False),
                    birth_date=data.get("birth_date"),
                    initiative_ids=[int(pk) for pk in data.get("picks", [])],
                    voids=voids,
                )
            except Refused as exc:
                refusal_to_form(form, exc)
            else:
                self.message_user(
                    request, gettext("Line %(number)s is entered.") % {"number": line.number}
                )
                return HttpResponseRedirect(self._page_url(batch) + "#line-form")
        return self._page(request, batch, line_form=form, status=422)

    def void_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = self._batch(request, pk)

        def act(data):
            voids = Line.objects.filter(pk=data["voids"], batch__city=batch.city).first()
            if voids is None:
                raise Refused(_("There is no such line."), code="voids", field="voids")
            return services.line_void(
                clerk=request.user, batch=batch, voids=voids, reason=data["reason"]
            )

        return self.form_page(
            request,
            form=VoidForm(request.POST or None),
            act=act,
            title=gettext("Void a counted line"),
            success=gettext(
                "The voiding line is entered; it takes effect when the batch is confirmed."
            ),
            redirect_to=self._page_url(batch),
            context={"object": batch},
        )

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = self._batch(request, pk)
        if request.method == "POST":
            try:
                services.batch_confirm(clerk=request.user, batch=batch)
            except Refused as exc:
                self.message_user(request, str(exc), level="error")
            else:
                self.message_user(request, gettext("The batch is confirmed and counted."))
        return HttpResponseRedirect(self._page_url(batch))

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = self._batch(request, pk)
        return self.form_page(
            request,
            form=RejectForm(request.POST or None),
            act=lambda data: services.batch_reject(
                clerk=request.user, batch=batch, reason=data["reason"]
            ),
            title=gettext("Reject the batch"),
            success=gettext("The batch is rejected; none of its lines count."),
            redirect_to=self._page_url(batch),
            context={"object": batch},
        )

    def scan_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        batch = self._batch(request, pk)
        if not batch.scan:
            raise Http404
        try:
            handle = batch.scan.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        head = handle.read(8)
        handle.seek(0)
        content_type, extension = scan_type(head) or ("application/octet-stream", "bin")
        response = FileResponse(
            handle,
            content_type=content_type,
            as_attachment=True,
            filename=f"paper-batch-{batch.pk}.{extension}",
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def identity_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404
        cities = [(city.pk, city.name) for city in self._cities(request)]

        def act(data):
            user = User.objects.filter(email__iexact=data["email"], is_active=True).first()
            if user is None:
                raise Refused(
                    _("There is no active account with this e-mail address."),
                    code="no_user",
                    field="email",
                )
            return services.clerk_confirm_identity(
                clerk=request.user,
                user=user,
                city=int(data["city"]),
                id_kind=data["id_kind"],
                id_number=data["id_number"],
            )

        return self.form_page(
            request,
            form=IdentityForm(request.POST or None, cities=cities),
            act=act,
            title=gettext("Confirm a person's identity document"),
            success=gettext("The account is tied to the person's identity key."),
            redirect_to=reverse("admin:paper_batch_changelist"),
        )
