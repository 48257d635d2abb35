from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from members.models import (
    CityContact,
    CityEService,
    DuesTier,
    EProduct,
    Invoice,
    MembershipApplication,
    MembershipEvent,
    OGPCommitment,
    OGPParticipation,
    OGPReport,
    Payment,
)
from members.services import (
    application_accept,
    application_decline,
    application_recommend,
    application_request_info,
    invoice_issue,
    invoice_outstanding,
    membership_event_record,
    payment_record,
)
from opencity.cities import access
from opencity.cities.admin import CityAdmin
from opencity.cities.admin_scoping import CityScopedAdmin
from opencity.cities.models import City, StaffRole
from opencity.core import Refused
from opencity.formats import money


class MemberCityAdmin(CityAdmin):
    """The core's city admin, plus the membership action: this year's dues invoices."""

    actions = ["issue_invoices_this_year"]

    @admin.action(description=_("Issue this year's dues invoice"))
    def issue_invoices_this_year(self, request, queryset):
        if not access.is_association_staff(request.user):
            raise PermissionDenied
        year, created, failed = timezone.localdate().year, 0, []
        for city in queryset:
            try:
                _invoice, was_created = invoice_issue(city=city, year=year, actor=request.user)
                created += was_created
            except Refused as exc:
                failed.append(str(exc))
        self.message_user(
            request,
            ngettext("%(n)d invoice issued.", "%(n)d invoices issued.", created) % {"n": created},
        )
        for message in failed:
            self.message_user(request, message, messages.WARNING)


# The core registers City; membership adds its action (cities comes first in INSTALLED_APPS).
admin.site.unregister(City)
admin.site.register(City, MemberCityAdmin)


@admin.register(MembershipEvent)
class MembershipEventAdmin(CityScopedAdmin):
    list_display = ("city", "status", "founding", "effective_on", "decided_by", "decision_ref")
    list_filter = ("status", "decided_by", "founding")
    search_fields = ("city__name_uk", "city__name_en", "decision_ref")
    autocomplete_fields = ("city",)
    date_hierarchy = "effective_on"
    change_roles = ()

    def save_model(self, request, obj, form, change):
        if not access.is_association_staff(request.user):
            raise PermissionDenied
        membership_event_record(event=obj, actor=request.user)


class AssociationOnlyAdmin(CityScopedAdmin):
    """Association staff only (by model permissions); city clerks see nothing."""

    view_roles = ()


@admin.register(CityContact)
class CityContactAdmin(AssociationOnlyAdmin):
    list_display = ("city", "mayor", "coordinator", "email", "phone")
    search_fields = ("city__name_uk", "mayor", "coordinator", "email")
    autocomplete_fields = ("city",)


class CityEServiceInline(admin.TabularInline):
    model = CityEService
    extra = 1
    autocomplete_fields = ("city",)


@admin.register(EProduct)
class EProductAdmin(admin.ModelAdmin):
    inlines = [CityEServiceInline]
    list_display = ("name", "category", "developer", "licence")
    list_filter = ("category",)
    search_fields = ("name", "developer", "description")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(CityEService)
class CityEServiceAdmin(CityScopedAdmin):
    view_roles = (StaffRole.Role.CITY_ADMIN,)
    change_roles = add_roles = delete_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = ("city", "product", "since")
    list_filter = ("product__category", "product")
    search_fields = ("city__name_uk", "product__name")
    autocomplete_fields = ("city",)
    date_hierarchy = "since"


class ApplicationReviewForm(forms.ModelForm):
    """The secretariat's and the board's step, applied through members.services."""

    STEPS = [
        ("", _("— no decision now —")),
        ("request_info", _("Request more information")),
        ("recommend", _("Recommend to the board")),
        ("decline", _("Decline")),
        ("accept", _("Accept (board or general assembly decision)")),
    ]
    step = forms.ChoiceField(label=_("Decision"), choices=STEPS, required=False)
    note = forms.CharField(
        label=_("Note to the applicant"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to request information or decline; sent by e-mail."),
    )
    decided_by = forms.ChoiceField(
        label=_("Decided by"),
        required=False,
        choices=[("", "—")]
        + [
            (MembershipEvent.Body.BOARD, MembershipEvent.Body.BOARD.label),
            (MembershipEvent.Body.ASSEMBLY, MembershipEvent.Body.ASSEMBLY.label),
        ],
    )
    decision_date = forms.DateField(label=_("Decision date"), required=False)
    decision_ref = forms.CharField(label=_("Decision reference"), required=False, max_length=100)

    class Meta:
        model = MembershipApplication
        fields = []

    def clean(self):
        cleaned = super().clean()
        step = cleaned.get("step")
        if step in ("request_info", "decline") and not cleaned.get("note", "").strip():
            self.add_error("note", _("This step needs a note to the applicant."))
        if step == "accept":
            for name in ("decided_by", "decision_date", "decision_ref"):
                if not cleaned.get(name):
                    self.add_error(name, _("Required to accept."))
        return cleaned


@admin.register(MembershipApplication)
class MembershipApplicationAdmin(AssociationOnlyAdmin):
    form = ApplicationReviewForm
    list_display = ("city", "status", "applicant", "council_decision_number", "created_at")
    list_filter = ("status",)
    search_fields = ("city__name_uk", "applicant__email", "council_decision_number")
    readonly_fields = (
        "city", "applicant", "status", "council_decision_number", "council_decision_date",
        "contact_name", "contact_email", "contact_phone", "message", "decision_link",
        "secretariat_note", "membership_event", "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": readonly_fields}),
        (_("Review"), {"fields": ("step", "note", "decided_by", "decision_date", "decision_ref")}),
    )

    def has_add_permission(self, request):
        return False  # applications come from city representatives on the site

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail refers to them

    @admin.display(description=_("council decision (PDF)"))
    def decision_link(self, obj):
        url = reverse("members:application_file", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def save_model(self, request, obj, form, change):
        if not access.is_association_staff(request.user):
            raise PermissionDenied
        data = form.cleaned_data
        step, note = data.get("step"), data.get("note", "")
        try:
            if step == "request_info":
                application_request_info(application=obj, actor=request.user, note=note)
            elif step == "recommend":
                application_recommend(application=obj, actor=request.user, note=note)
            elif step == "decline":
                application_decline(application=obj, actor=request.user, note=note)
            elif step == "accept":
                application_accept(
                    application=obj,
                    actor=request.user,
                    decided_by=data["decided_by"],
                    decision_date=data["decision_date"],
                    decision_ref=data["decision_ref"],
                )
        except Refused as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(DuesTier)
class DuesTierAdmin(AssociationOnlyAdmin):
    city_field = None
    list_display = ("name", "min_population", "max_population", "entry_fee", "annual_dues")

    def get_queryset(self, request):
        if not access.is_association_staff(request.user):
            return DuesTier.objects.none()
        return DuesTier.objects.all()


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    fields = ("amount", "paid_on", "reference", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # payments go through the Payment form, which checks the amount owed


@admin.register(Invoice)
class InvoiceAdmin(AssociationOnlyAdmin):
    list_display = (
        "number", "city", "year", "annual_dues", "entry_fee", "paid", "outstanding", "issued_on",
    )  # fmt: skip
    list_filter = ("year",)
    search_fields = ("number", "city__name_uk")
    autocomplete_fields = ("city",)
    inlines = [PaymentInline]

    def get_queryset(self, request):
        money = DecimalField(max_digits=14, decimal_places=2)
        return (
            super()
            .get_queryset(request)
            .select_related("city")
            .annotate(paid_sum=Coalesce(Sum("payments__amount"), Decimal("0"), output_field=money))
        )

    @admin.display(description=_("paid, UAH"))
    def paid(self, obj):
        return obj.paid_sum

    @admin.display(description=_("outstanding, UAH"))
    def outstanding(self, obj):
        return obj.total - obj.paid_sum


class PaymentForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["invoice", "amount", "paid_on", "reference"]

    def clean(self):
        cleaned = super().clean()
        invoice, amount = cleaned.get("invoice"), cleaned.get("amount")
        if invoice and amount and not self.instance.pk:
            outstanding = invoice_outstanding(invoice)
            if amount > outstanding:
                self.add_error(
                    "amount",
                    _("Only %(outstanding)s UAH is still owed on this invoice.")
                    % {"outstanding": money(outstanding)},
                )
        return cleaned


@admin.register(Payment)
class PaymentAdmin(AssociationOnlyAdmin):
    city_field = "invoice__city"
    form = PaymentForm
    list_display = ("invoice", "amount", "paid_on", "reference")
    list_filter = ("invoice__year",)
    search_fields = ("invoice__number", "invoice__city__name_uk", "reference")
    autocomplete_fields = ("invoice",)
    date_hierarchy = "paid_on"

    def get_changeform_initial_data(self, request):
        # Today in Kyiv, not the server's UTC date: after midnight in Kyiv it is already the
        # next day while UTC still has the last one.
        return {"paid_on": timezone.localdate(), **super().get_changeform_initial_data(request)}

    def get_readonly_fields(self, request, obj=None):
        return ("invoice", "amount", "paid_on") if obj else ()

    def save_model(self, request, obj, form, change):
        if not access.is_association_staff(request.user):
            raise PermissionDenied
        if change:
            obj.save(update_fields=["reference"])
            return
        try:
            saved = payment_record(
                invoice=obj.invoice,
                amount=obj.amount,
                paid_on=obj.paid_on,
                reference=obj.reference,
                actor=request.user,
            )
        except Refused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = saved.pk


class OGPCommitmentInline(admin.TabularInline):
    model = OGPCommitment
    extra = 1


class OGPReportInline(admin.TabularInline):
    model = OGPReport
    extra = 1


@admin.register(OGPParticipation)
class OGPParticipationAdmin(CityScopedAdmin):
    view_roles = change_roles = (StaffRole.Role.CITY_ADMIN,)
    list_display = ("city", "member_since", "action_plan_start", "action_plan_end", "forum_exists")
    autocomplete_fields = ("city",)
    inlines = [OGPCommitmentInline, OGPReportInline]


admin.site.site_header = _("OpenCity administration")
admin.site.site_title = _("OpenCity")
admin.site.index_title = _("City and association workspace")


# The council surveys' admin lives in its own package; imported so its models register.
from members.surveys import admin as surveys_admin  # noqa: E402, F401
