from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import DuesTier, Invoice, MembershipApplication, MembershipEvent, Payment
from members.selectors import city_membership_status, member_cities
from opencity.accounts.models import User
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.services import audit, notify_user
from opencity.core.transitions import transition
from opencity.formats import money

logger = logging.getLogger(__name__)


# --- joining ---------------------------------------------------------------------------------
AppStatus = MembershipApplication.Status


def _notify_applicant(application: MembershipApplication, entry_pk: int, step: str) -> None:
    # The audit entry makes the key unique per step occurrence, and deterministic: replaying
    # the same step never sends a second copy.
    notify_user(
        user=application.applicant,
        key=f"members.application.{application.pk}.{step}.{entry_pk}",
        template="members_application",
        context={"application": application, "step": step},
        city=application.city,
    )


def _transition(
    *,
    application: MembershipApplication,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    note: str = "",
    action: str,
) -> MembershipApplication:
    """One step of the secretariat: `transition()` (exactly once, audited) and the e-mail."""
    changes = {}
    if note or to in (AppStatus.INFO_REQUESTED, AppStatus.DECLINED):
        changes["secretariat_note"] = note
    entry = transition(
        application,
        allowed_from=allowed_from,
        to=to,
        action=f"members.application.{_DONE[action]}",
        actor=actor,
        city=application.city_id,
        reason=note,
        **changes,
    )
    _notify_applicant(application, entry.pk, action)
    return application


# The applicant's e-mail names the step; the audit entry the event (app.object.verb).
_DONE = {
    "request_info": "info_requested",
    "recommend": "recommended",
    "decline": "declined",
}


def city_may_apply(city: City) -> bool:
    return city_membership_status(city) in (
        None,
        MembershipEvent.Status.CANDIDATE,
        MembershipEvent.Status.WITHDRAWN,
    )


@transaction.atomic
def application_submit(
    *,
    applicant: User,
    city: City,
    council_decision_number: str,
    council_decision_date: date,
    contact_name: str,
    contact_email: str,
    contact_phone: str = "",
    message: str = "",
    decision_file: UploadedFile,
) -> MembershipApplication:
    """A signed-in city representative applies for membership. Atomic.

    Refuses (Refused) a city that is already a member or has an open application;
    the database constraint backs the second rule against concurrent submissions. Records an
    audit entry and the applicant's confirmation e-mail in the same transaction.
    """
    if not city_may_apply(city):
        raise Refused(
            _("This hromada is already a member of the association."), code="already_member"
        )
    application = MembershipApplication(
        city=city,
        applicant=applicant,
        council_decision_number=council_decision_number,
        council_decision_date=council_decision_date,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
        message=message,
        decision_file=decision_file,
    )
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError:
        if application.decision_file.name:
            application.decision_file.storage.delete(application.decision_file.name)
        raise Refused(
            _("An application from this hromada is already being reviewed."),
            code="open_application",
        ) from None
    entry = audit(
        obj=application,
        action="members.application.submitted",
        actor=applicant,
        city=city,
        to_state=AppStatus.SUBMITTED,
    )
    _notify_applicant(application, entry.pk, "submit")
    return application


@transaction.atomic
def application_resubmit(
    *,
    application: MembershipApplication,
    applicant: User,
    message: str,
    decision_file: UploadedFile | None = None,
) -> MembershipApplication:
    """The applicant answers a request for more information (and may replace the PDF).
    Atomic, once per request (a second answer is refused)."""
    if application.applicant_id != applicant.pk:
        raise Refused(_("Only the person who applied can answer."), code="forbidden")
    old_file = application.decision_file.name
    entry = transition(
        application,
        allowed_from=[AppStatus.INFO_REQUESTED],
        to=AppStatus.SUBMITTED,
        action="members.application.resubmitted",
        actor=applicant,
        city=application.city_id,
        reason=message,
        refused=_("The secretariat has not asked for more information."),
        message=message,
    )
    if decision_file is not None:
        application.decision_file = decision_file
        application.save(update_fields=["decision_file"])
        if old_file:
            storage, name = application.decision_file.storage, old_file
            transaction.on_commit(lambda: storage.delete(name))
    _notify_applicant(application, entry.pk, "resubmit")
    return application


@transaction.atomic
def application_request_info(
    *, application: MembershipApplication, actor: User, note: str
) -> MembershipApplication:
    """Secretariat asks the applicant for more information. Atomic; association staff only."""
    if not note.strip():
        raise Refused(_("Say what information is missing."), code="note", field="note")
    return _transition(
        application=application,
        allowed_from=(AppStatus.SUBMITTED, AppStatus.RECOMMENDED),
        to=AppStatus.INFO_REQUESTED,
        actor=actor,
        note=note,
        action="request_info",
    )


@transaction.atomic
def application_recommend(
    *, application: MembershipApplication, actor: User, note: str = ""
) -> MembershipApplication:
    """Secretariat recommends the application to the board. Atomic; association staff only."""
    return _transition(
        application=application,
        allowed_from=(AppStatus.SUBMITTED,),
        to=AppStatus.RECOMMENDED,
        actor=actor,
        note=note,
        action="recommend",
    )


@transaction.atomic
def application_decline(
    *, application: MembershipApplication, actor: User, note: str
) -> MembershipApplication:
    """Secretariat (or board) declines with a reason. Atomic; association staff only."""
    if not note.strip():
        raise Refused(_("Give the reason for declining."), code="note", field="note")
    return _transition(
        application=application,
        allowed_from=MembershipApplication.OPEN_STATUSES,
        to=AppStatus.DECLINED,
        actor=actor,
        note=note,
        action="decline",
    )


@transaction.atomic
def application_accept(
    *,
    application: MembershipApplication,
    actor: User,
    decided_by: str,
    decision_date: date,
    decision_ref: str,
    effective_on: date | None = None,
) -> MembershipApplication:
    """The board or general assembly accepts a recommended application. Atomic.

    Creates the MembershipEvent (status member) that makes the city a member from
    `effective_on` (default: the decision date), links it to the application, writes the
    audit entry and e-mails the applicant. Association staff only.
    """
    if decided_by not in (MembershipEvent.Body.BOARD, MembershipEvent.Body.ASSEMBLY):
        raise Refused(
            _("Only the board or the general assembly accepts members."), code="decided_by"
        )
    event = MembershipEvent.objects.create(
        city_id=application.city_id,
        status=MembershipEvent.Status.MEMBER,
        effective_on=effective_on or decision_date,
        decided_by=decided_by,
        decision_date=decision_date,
        decision_ref=decision_ref,
        note=f"application #{application.pk}",
    )
    # Refused (and the event rolled back with the transaction) unless still recommended.
    entry = transition(
        application,
        allowed_from=[AppStatus.RECOMMENDED],
        to=AppStatus.ACCEPTED,
        action="members.application.accepted",
        actor=actor,
        city=application.city_id,
        reason=decision_ref,
        refused=_("Only a recommended application can be accepted."),
        membership_event=event,
    )
    audit(
        obj=event,
        action="members.membership.changed",
        actor=actor,
        city=application.city_id,
        to_state=event.status,
        reason=decision_ref,
    )
    _notify_applicant(application, entry.pk, "accept")
    return application


@transaction.atomic
def membership_event_record(*, event: MembershipEvent, actor: User) -> MembershipEvent:
    """Record a status change decided outside the application flow (admin). Audited."""
    before = city_membership_status(event.city, on=event.effective_on) or ""
    event.save()
    audit(
        obj=event,
        action="members.membership.changed",
        actor=actor,
        city=event.city,
        from_state=before,
        to_state=event.status,
        reason=event.decision_ref,
    )
    return event


# --- dues ----------------------------------------------------------------------------------
def tier_for_population(population: int | None) -> DuesTier | None:
    if population is None:
        return None
    return (
        DuesTier.objects.filter(min_population__lte=population)
        .filter(Q(max_population__isnull=True) | Q(max_population__gte=population))
        .order_by("-min_population")
        .first()
    )


@transaction.atomic
def invoice_issue(
    *, city: City, year: int, actor: User | None = None, issued_on: date | None = None
) -> tuple[Invoice, bool]:
    """Issue the city's invoice for `year` from its population tier. Idempotent.

    One invoice per city and year (database constraint): a second call returns the existing
    one and False. The entry fee is added to the city's first invoice only.
    """
    existing = Invoice.objects.filter(city=city, year=year).first()
    if existing:
        return existing, False
    tier = tier_for_population(city.population)
    if tier is None:
        raise Refused(
            _("No dues tier covers the population of %(city)s.") % {"city": city}, code="no_tier"
        )
    first = not Invoice.objects.filter(city=city, year__lt=year).exists()
    invoice = Invoice(
        city=city,
        year=year,
        tier=tier,
        annual_dues=tier.annual_dues,
        entry_fee=tier.entry_fee if first else Decimal("0"),
        issued_on=issued_on or timezone.localdate(),
        number=f"OC-{year}-{city.pk:05d}",
    )
    try:
        with transaction.atomic():
            invoice.save()
    except IntegrityError:
        return Invoice.objects.get(city=city, year=year), False
    audit(
        obj=invoice,
        action="members.invoice.issued",
        actor=actor,
        city=city,
        to_state=str(invoice.total),
    )
    return invoice, True


def invoices_issue_for_year(*, year: int, actor: User | None = None) -> int:
    """Issue `year`'s invoices for every city that is a member on 1 January or 31 December
    of that year (capped at today). Idempotent; returns how many were created."""
    last_day = min(date(year, 12, 31), timezone.localdate())
    city_ids = set(member_cities(on=date(year, 1, 1)).values_list("pk", flat=True))
    city_ids |= set(member_cities(on=last_day).values_list("pk", flat=True))
    created = 0
    for city in City.objects.filter(pk__in=city_ids).exclude(invoices__year=year):
        try:
            _, was_created = invoice_issue(city=city, year=year, actor=actor)
        except Refused:
            logger.warning("no dues tier for %s (population %s)", city, city.population)
            continue
        created += was_created
    return created


def invoice_outstanding(invoice: Invoice) -> Decimal:
    paid = invoice.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return invoice.total - paid


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    amount: Decimal,
    paid_on: date,
    reference: str = "",
    actor: User | None = None,
) -> Payment:
    """Record a (possibly partial) payment. Atomic; association staff only.

    Refuses non-positive amounts, non-Decimal amounts and anything above what is still
    owed on the invoice; the invoice row is locked so two clerks cannot overpay it together.
    """
    if not isinstance(amount, Decimal):
        raise Refused(_("Amounts are exact decimal numbers."), code="amount", field="amount")
    if amount <= 0:
        raise Refused(_("A payment must be more than zero."), code="amount", field="amount")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    outstanding = invoice_outstanding(invoice)
    if amount > outstanding:
        raise Refused(
            _("Only %(outstanding)s UAH is still owed on this invoice.")
            % {"outstanding": money(outstanding)},
            code="overpaid",
            field="amount",
        )
    payment = Payment.objects.create(
        invoice=invoice, amount=amount, paid_on=paid_on, reference=reference
    )
    audit(
        obj=payment,
        action="members.payment.recorded",
        actor=actor,
        city=invoice.city,
        to_state=str(amount),
        data={"invoice": invoice.number},
    )
    return payment
