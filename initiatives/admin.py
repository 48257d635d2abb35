"""Django admin for public budgets, scoped to the clerk's city.

Status changes never happen by editing fields: the review, the stage extension, the tally,
the publication and implementation updates go through services (audited).
"""

from __future__ import annotations

import contextlib

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from initiatives import services
from initiatives.admin_forms import (
    DATE_FIELDS,
    CategoryFormSet,
    ImplementationUpdateForm,
    ProgrammeForm,
    frozen_message,
    rules_locked,
)
from initiatives.forms import ExtendStageForm, PhotoHideForm, ReviewForm
from initiatives.models import (
    FROZEN_PROGRAMME_FIELDS,
    Category,
    CostLine,
    District,
    ImplementationUpdate,
    Initiative,
    InitiativeForReview,
    InitiativePhoto,
    Programme,
    ResultRow,
    ResultSnapshot,
)
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import StaffRole
from opencity.core import Refused
from opencity.core.services import audit

REVIEWERS = (StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN)


class ScopedInline(admin.TabularInline):
    """An inline that follows its parent admin's city-scoped permissions."""

    extra = 0

    def _parent(self):
        return self.admin_site._registry[self.parent_model]

    def has_view_permission(self, request, obj=None):
        return self._parent().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._parent().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._parent().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._parent().has_change_permission(request, obj)


class ReadOnlyInline(ScopedInline):
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CategoryInline(ScopedInline):
    model = Category
    formset = CategoryFormSet
    fields = ("name", "budget", "max_project_cost", "position")

    def has_add_permission(self, request, obj=None):
        return not rules_locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not rules_locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not rules_locked(obj) and super().has_delete_permission(request, obj)


class DistrictInline(ScopedInline):
    model = District
    fields = ("name",)


@admin.register(Programme)
class ProgrammeAdmin(CityScopedAdmin):
    city_field = "city"
    change_roles = REVIEWERS
    add_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = ("title", "city", "year", "total_budget", "stage_display", "voting_closes")
    list_filter = ("year",)
    search_fields = ("title", "slug", "city__name_uk")
    prepopulated_fields = {"slug": ("title",)}
    form = ProgrammeForm
    inlines = (CategoryInline, DistrictInline)
    actions = ("run_tally",)
    fieldsets = (
        (None, {"fields": ("city", "title", "slug", "year", "description", "total_budget")}),
        (_("Stages"), {"fields": (*DATE_FIELDS, "tools")}),
        (
            _("Voting rules"),
            {
                "fields": (
                    "max_votes",
                    "one_per_category",
                    "min_voter_age",
                    "residents_only",
                    "votes_changeable",
                    "live_counts",
                    "winner_rule",
                    "verified_eligibility",
                )
            },
        ),
    )

    @admin.display(description=_("stage"))
    def stage_display(self, obj):
        return obj.get_stage_display()

    @admin.display(description=_("actions"))
    def tools(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        from initiatives.tasks import tally_progress_key

        step = None
        with contextlib.suppress(Exception):  # a cache outage hides the progress, no more
            step = cache.get(tally_progress_key(obj.pk))
        running = (
            gettext("Tally running: equal shares, step %(step)s") % {"step": step}
            if step is not None
            else ""
        )
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> {}',
            reverse("admin:initiatives_programme_extend", args=[obj.pk]),
            gettext("Extend a stage"),
            reverse("initiatives:results", args=[obj.slug]),
            gettext("Results"),
            running,
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("tools",)
        # Dates change only through "Extend a stage" (audited); the city never changes; the
        # rules never change once voting has started (the database refuses it too).
        frozen = FROZEN_PROGRAMME_FIELDS if rules_locked(obj) else ()
        return ("city", "slug", *DATE_FIELDS, "tools", *frozen)

    def get_prepopulated_fields(self, request, obj=None):
        return (
            {} if obj is not None else super().get_prepopulated_fields(request, obj)
        )  # slug is fixed

    def change_view(self, request, object_id, form_url="", extra_context=None):
        programme = self.get_object(request, object_id)
        if request.method == "GET" and rules_locked(programme):
            self.message_user(request, frozen_message(programme), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            obj=obj,
            action="initiatives.programme.changed" if change else "initiatives.programme.created",
            actor=request.user,
            city=obj.city,
            data={"fields": sorted(form.changed_data)},
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changed = {
            formset.prefix: len(formset.new_objects)
            + len(formset.changed_objects)
            + len(formset.deleted_objects)
            for formset in formsets
        }
        if change and any(changed.values()):
            audit(
                obj=form.instance,
                action="initiatives.programme.parts_changed",
                actor=request.user,
                city=form.instance.city,
                data=changed,
            )

    def get_urls(self):
        return [
            path(
                "<int:pk>/extend/",
                self.admin_site.admin_view(self.extend_view),
                name="initiatives_programme_extend",
            ),
            *super().get_urls(),
        ]

    def extend_view(self, request, pk):
        programme = self.get_object_for_staff(request, pk)

        def extend(data):
            services.programme_extend_stage(
                programme=programme,
                stage=data["stage"],
                until=data["until"],
                actor=request.user,
                reason=data["reason"],
            )

        return self.form_page(
            request,
            form=ExtendStageForm(request.POST or None),
            act=extend,
            title=gettext("Extend a stage: %(title)s") % {"title": programme.title},
            success=gettext("The stage is extended."),
            redirect_to=reverse("admin:initiatives_programme_change", args=[programme.pk]),
            context={"object": programme},
        )

    @admin.action(description=_("Run the tally now (after voting closed)"))
    def run_tally(self, request, queryset):
        for programme in queryset:
            if not self.has_change_permission(request, programme):
                raise PermissionDenied
            try:
                services.tally_request(programme=programme, actor=request.user)
            except Refused as exc:
                self.message_user(request, f"{programme}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, gettext("Tally queued: %(p)s") % {"p": programme})


class CostLineInline(ReadOnlyInline):
    model = CostLine
    fields = ("position", "description", "amount")
    readonly_fields = fields


class ImplementationUpdateInline(ReadOnlyInline):
    model = ImplementationUpdate
    fields = ("happened_on", "status", "text", "created_by")
    readonly_fields = fields


INITIATIVE_FIELDS = (
    "programme",
    "category",
    "district",
    "author",
    "title",
    "summary",
    "description",
    "address",
    "latitude",
    "longitude",
    "total_cost",
    "status",
    "rejection_reason",
    "review_comment",
    "submitted_at",
    "updated_at",
)


class PhotoInline(ReadOnlyInline):
    model = InitiativePhoto
    fields = ("preview", "hidden", "processed_at", "tools_")
    readonly_fields = fields

    @admin.display(description=_("photo"))
    def preview(self, obj):
        if obj.thumbnail:
            return format_html('<img src="{}" alt="" width="120">', obj.thumbnail.url)
        if obj.processed_at:
            return gettext("cannot be read")
        return gettext("being processed")

    @admin.display(description=_("actions"))
    def tools_(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:initiatives_initiative_photo_hide", args=[obj.initiative_id, obj.pk]),
            gettext("Show") if obj.hidden else gettext("Hide…"),
            reverse(
                "admin:initiatives_initiative_photo_original", args=[obj.initiative_id, obj.pk]
            ),
            gettext("Original (with camera data)"),
        )


@admin.register(Initiative)
class InitiativeAdmin(CityScopedAdmin):
    city_field = "programme__city"
    change_roles = REVIEWERS
    list_display = ("title", "programme", "category", "status", "total_cost", "submitted_at")
    list_filter = ("status", "programme__year")
    search_fields = ("title", "summary", "address")
    list_select_related = ("programme", "category")
    readonly_fields = (*INITIATIVE_FIELDS, "tools")
    fields = ("tools", *INITIATIVE_FIELDS)
    inlines = (CostLineInline, PhotoInline, ImplementationUpdateInline)
    date_hierarchy = "submitted_at"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("actions"))
    def tools(self, obj):
        links = [
            (reverse("admin:initiatives_initiative_review", args=[obj.pk]), gettext("Review")),
            (
                reverse("admin:initiatives_initiative_report", args=[obj.pk]),
                gettext("Post an implementation update"),
            ),
            (obj.get_absolute_url(), gettext("View on site")),
        ]
        return format_html(
            " · ".join(["<a href='{}'>{}</a>"] * len(links)), *[x for pair in links for x in pair]
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="initiatives_initiative_review",
            ),
            path(
                "<int:pk>/report/",
                self.admin_site.admin_view(self.report_view),
                name="initiatives_initiative_report",
            ),
            path(
                "<int:pk>/photos/<int:photo_pk>/hide/",
                self.admin_site.admin_view(self.photo_hide_view),
                name="initiatives_initiative_photo_hide",
            ),
            path(
                "<int:pk>/photos/<int:photo_pk>/original/",
                self.admin_site.admin_view(self.photo_original_view),
                name="initiatives_initiative_photo_original",
            ),
            *super().get_urls(),
        ]

    def _photo(self, request, pk: int, photo_pk: int) -> InitiativePhoto:
        """A photo of an initiative of the clerk's city (404 for another city's)."""
        initiative = self.get_object_for_staff(
            request,
            pk,
            roles=REVIEWERS,
            queryset=Initiative.objects.select_related("programme__city"),
        )
        photo = get_object_or_404(InitiativePhoto, pk=photo_pk, initiative=initiative)
        photo.initiative = initiative
        return photo

    def photo_hide_view(self, request, pk, photo_pk):
        photo = self._photo(request, pk, photo_pk)
        title = gettext("Show the photo again") if photo.hidden else gettext("Hide the photo")
        return self.form_page(
            request,
            form=PhotoHideForm(request.POST or None),
            act=lambda data: services.photo_hide(
                photo=photo, actor=request.user, reason=data["reason"], hidden=not photo.hidden
            ),
            title=f"{title}: {photo.initiative.title}",
            success=gettext("Done; the change is in the audit log."),
            redirect_to=reverse("admin:initiatives_initiative_change", args=[pk]),
        )

    def photo_original_view(self, request, pk, photo_pk):
        """The original as uploaded (camera data included): staff of the city only."""
        photo = self._photo(request, pk, photo_pk)
        response = FileResponse(photo.original.open("rb"), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="photo-{photo.pk}-original"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _initiative_page(self, request, pk, *, form_class, act, title, success, redirect_to):
        """Review and implementation pages: reviewers of the initiative's city only."""
        initiative = self.get_object_for_staff(
            request,
            pk,
            roles=REVIEWERS,
            queryset=Initiative.objects.select_related("programme__city", "author"),
        )
        return self.form_page(
            request,
            form=form_class(request.POST or None),
            act=lambda data: act(initiative, data),
            title=title % {"title": initiative.title},
            success=success,
            redirect_to=redirect_to(initiative),
            template="admin/initiatives/form_page.html",
            context={"object": initiative, "lines": initiative.cost_lines.all()},
        )

    def review_view(self, request, pk):
        def decide(initiative, data):
            decision, comment = data["decision"], data["comment"]
            if decision == ReviewForm.ACCEPT:
                services.initiative_accept(
                    initiative=initiative, actor=request.user, comment=comment
                )
            elif decision == ReviewForm.REVISE:
                services.initiative_request_revision(
                    initiative=initiative, actor=request.user, comment=comment
                )
            else:
                services.initiative_reject(
                    initiative=initiative,
                    actor=request.user,
                    reason=data["reason"],
                    comment=comment,
                )

        return self._initiative_page(
            request,
            pk,
            form_class=ReviewForm,
            act=decide,
            title=gettext("Review: %(title)s"),
            success=gettext("The decision is recorded."),
            redirect_to=lambda _i: reverse("admin:initiatives_initiativeforreview_changelist"),
        )

    def report_view(self, request, pk):
        def post_update(initiative, data):
            services.implementation_update_post(
                initiative=initiative,
                actor=request.user,
                status=data["status"],
                happened_on=data["happened_on"],
                text=data["text"],
            )

        return self._initiative_page(
            request,
            pk,
            form_class=ImplementationUpdateForm,
            act=post_update,
            title=gettext("Implementation update: %(title)s"),
            success=gettext("The update is published."),
            redirect_to=lambda i: reverse("admin:initiatives_initiative_change", args=[i.pk]),
        )


@admin.register(InitiativeForReview)
class ReviewQueueAdmin(InitiativeAdmin):
    """The working group's queue: initiatives waiting for a decision, oldest first."""

    list_display = ("title", "programme", "category", "total_cost", "submitted_at", "review_link")
    list_filter = ("programme__year",)
    date_hierarchy = None
    ordering = ("submitted_at", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Initiative.Status.SUBMITTED)

    @admin.display(description=_("review"))
    def review_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:initiatives_initiative_review", args=[obj.pk]),
            gettext("Review"),
        )

    def get_urls(self):
        return admin.ModelAdmin.get_urls(self)


class ResultRowInline(ReadOnlyInline):
    model = ResultRow
    fields = ("category", "rank", "initiative", "votes", "paper_votes", "amount", "winner")
    readonly_fields = fields
    ordering = ("category__position", "rank")


@admin.register(ResultSnapshot)
class ResultSnapshotAdmin(CityScopedAdmin):
    city_field = "programme__city"
    change_roles = REVIEWERS
    list_display = ("programme", "created_at", "total_votes", "funded_amount", "published_at")
    list_select_related = ("programme",)
    readonly_fields = (
        "programme",
        "content_hash",
        "created_at",
        "total_votes",
        "total_voters",
        "funded_amount",
        "published_at",
        "published_by",
    )
    fields = readonly_fields
    inlines = (ResultRowInline,)
    actions = ("publish",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Publish these results"))
    def publish(self, request, queryset):
        for snapshot in queryset.select_related("programme"):
            try:
                services.results_publish(snapshot=snapshot, actor=request.user)
            except Refused as exc:
                self.message_user(request, f"{snapshot}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, gettext("Published: %(s)s") % {"s": snapshot})


from initiatives import admin_eligibility  # noqa: E402,F401  (registers its admin)
