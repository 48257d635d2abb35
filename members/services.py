from __future__ import annotations

import csv
import logging
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from members.models import (
    City,
    DuesTier,
    Invoice,
    MembershipApplication,
    MembershipEvent,
    Payment,
    StaffRole,
    default_council_name_en,
    default_council_name_uk,
)
from opencity.core.services import audit, notify_user
from opencity.formats import money

logger = logging.getLogger(__name__)


@transaction.atomic
def staff_role_assign(*, user, city: City, role: str, actor=None) -> StaffRole:
    """Give `user` a role in `city` and the admin access it implies. Idempotent."""
    staff_role, created = StaffRole.objects.get_or_create(user=user, city=city, role=role)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if created:
        audit(obj=staff_role, action="staff_role.assign", actor=actor, city=city, to_state=role)
    return staff_role


@transaction.atomic
def staff_role_revoke(*, staff_role: StaffRole, actor=None) -> None:
    user, city, role = staff_role.user, staff_role.city, staff_role.role
    audit(obj=staff_role, action="staff_role.revoke", actor=actor, city=city, from_state=role)
    staff_role.delete()
    if not user.is_superuser and not user.staff_roles.exists() and not user.groups.exists():
        user.is_staff = False
        user.save(update_fields=["is_staff"])


HROMADAS_CSV = Path(__file__).resolve().parent / "data" / "hromadas.csv"
_CITY_FIELDS = (
    "slug", "name_uk", "name_en", "raion_uk", "oblast_uk", "oblast_en", "population",
    "edem_petitions", "edem_participatory_budget",
)  # fmt: skip


def _slugs(rows: list[dict]) -> dict[str, str]:
    """Stable, unique slugs: the English name, qualified by oblast (then code) when shared."""
    by_name = Counter(slugify(row["name_en"]) for row in rows)
    by_name_oblast = Counter((slugify(row["name_en"]), slugify(row["oblast_en"])) for row in rows)
    slugs = {}
    for row in rows:
        name, oblast = slugify(row["name_en"]), slugify(row["oblast_en"])
        if by_name[name] == 1:
            slugs[row["katottg"]] = name
        elif by_name_oblast[(name, oblast)] == 1:
            slugs[row["katottg"]] = f"{name}-{oblast}"
        else:
            slugs[row["katottg"]] = f"{name}-{oblast}-{row['katottg'][-5:].lower()}"
    return slugs


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {value!r}")
    return value == "1"


@transaction.atomic
def import_hromadas(path: Path = HROMADAS_CSV) -> tuple[int, int]:
    """Create or update every hromada from the CSV, keyed by KATOTTG code. Idempotent.

    Returns (created, updated). Existing rows keep their website and anything else the
    CSV does not carry.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    slugs = _slugs(rows)
    existing = {city.katottg: city for city in City.objects.all()}
    to_create, to_update = [], []
    for row in rows:
        values = {
            "slug": slugs[row["katottg"]],
            "name_uk": row["name_uk"].strip(),
            "name_en": row["name_en"].strip(),
            "raion_uk": row["raion_uk"].strip(),
            "oblast_uk": row["oblast_uk"].strip(),
            "oblast_en": row["oblast_en"].strip(),
            "population": int(row["population_2022"]) if row["population_2022"] else None,
            "edem_petitions": _flag(row["edem_petitions"]),
            "edem_participatory_budget": _flag(row["edem_participatory_budget"]),
        }
        city = existing.get(row["katottg"])
        if city is None:
            # Staff correct it in admin to the official name («Луцька міська рада»).
            council = {
                "council_name_uk": default_council_name_uk(values["name_uk"]),
                "council_name_en": default_council_name_en(values["name_en"]),
            }
            to_create.append(City(katottg=row["katottg"], **values, **council))
        elif any(getattr(city, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(city, key, value)
            to_update.append(city)
    if to_update:
        # Free the slugs first so that a rename between two rows never trips the constraint.
        City.objects.filter(pk__in=[city.pk for city in to_update]).update(
            slug=Concat(Value("tmp-"), "katottg")
        )
        City.objects.bulk_update(to_update, _CITY_FIELDS, batch_size=500)
    City.objects.bulk_create(to_create, batch_size=500)
    return len(to_create), len(to_update)


# --- joining ---------------------------------------------------------------------------------
class ApplicationError(Exception):
    """A workflow step that is not allowed now; the message is safe to show to the user."""


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
    actor,
    note: str = "",
    action: str,
) -> MembershipApplication:
    locked = MembershipApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status not in allowed_from:
        raise ApplicationError(
            _("This application is “%(status)s”; that step is not possible now.")
            % {"status": locked.get_status_display()}
        )
    from_state = locked.status
    locked.status = to
    fields = ["status", "updated_at"]
    if note or to in (AppStatus.INFO_REQUESTED, AppStatus.DECLINED):
        locked.secretariat_note = note
        fields.append("secretariat_note")
    locked.save(update_fields=fields)
    entry = audit(
        obj=locked,
        action=f"application.{action}",
        actor=actor,
        city=locked.city,
        from_state=from_state,
        to_state=to,
        reason=note,
    )
    _notify_applicant(locked, entry.pk, action)
    return locked


def city_may_apply(city: City) -> bool:
    from members.selectors import city_membership_status

    return city_membership_status(city) in (
        None,
        MembershipEvent.Status.CANDIDATE,
        MembershipEvent.Status.WITHDRAWN,
    )


@transaction.atomic
def application_submit(
    *,
    applicant,
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

    Refuses (ApplicationError) a city that is already a member or has an open application;
    the database constraint backs the second rule against concurrent submissions. Records an
    audit entry and the applicant's confirmation e-mail in the same transaction.
    """
    if not city_may_apply(city):
        raise ApplicationError(_("This hromada is already a member of the association."))
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
        raise ApplicationError(
            _("An application from this hromada is already being reviewed.")
        ) from None
    entry = audit(
        obj=application,
        action="application.submit",
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
    applicant,
    message: str,
    decision_file: UploadedFile | None = None,
) -> MembershipApplication:
    """The applicant answers a request for more information (and may replace the PDF)."""
    if application.applicant_id != applicant.pk:
        raise ApplicationError(_("Only the person who applied can answer."))
    locked = MembershipApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != AppStatus.INFO_REQUESTED:
        raise ApplicationError(_("The secretariat has not asked for more information."))
    old_file = locked.decision_file.name
    locked.message = message
    locked.status = AppStatus.SUBMITTED
    fields = ["message", "status", "updated_at"]
    if decision_file is not None:
        locked.decision_file = decision_file
        fields.append("decision_file")
    locked.save(update_fields=fields)
    if decision_file is not None and old_file:
        storage, name = locked.decision_file.storage, old_file
        transaction.on_commit(lambda: storage.delete(name))
    entry = audit(
        obj=locked,
        action="application.resubmit",
        actor=applicant,
        city=locked.city,
        from_state=AppStatus.INFO_REQUESTED,
        to_state=AppStatus.SUBMITTED,
        reason=message,
    )
    _notify_applicant(locked, entry.pk, "resubmit")
    return locked


@transaction.atomic
def application_request_info(
    *, application: MembershipApplication, actor, note: str
) -> MembershipApplication:
    """Secretariat asks the applicant for more information. Atomic; association staff only."""
    if not note.strip():
        raise ApplicationError(_("Say what information is missing."))
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
    *, application: MembershipApplication, actor, note: str = ""
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
    *, application: MembershipApplication, actor, note: str
) -> MembershipApplication:
    """Secretariat (or board) declines with a reason. Atomic; association staff only."""
    if not note.strip():
        raise ApplicationError(_("Give the reason for declining."))
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
    actor,
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
        raise ApplicationError(_("Only the board or the general assembly accepts members."))
    locked = MembershipApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != AppStatus.RECOMMENDED:
        raise ApplicationError(_("Only a recommended application can be accepted."))
    event = MembershipEvent.objects.create(
        city=locked.city,
        status=MembershipEvent.Status.MEMBER,
        effective_on=effective_on or decision_date,
        decided_by=decided_by,
        decision_date=decision_date,
        decision_ref=decision_ref,
        note=f"application #{locked.pk}",
    )
    locked.status = AppStatus.ACCEPTED
    locked.membership_event = event
    locked.save(update_fields=["status", "membership_event", "updated_at"])
    entry = audit(
        obj=locked,
        action="application.accept",
        actor=actor,
        city=locked.city,
        from_state=AppStatus.RECOMMENDED,
        to_state=AppStatus.ACCEPTED,
        reason=decision_ref,
    )
    audit(
        obj=event,
        action="membership.change",
        actor=actor,
        city=locked.city,
        to_state=event.status,
        reason=decision_ref,
    )
    _notify_applicant(locked, entry.pk, "accept")
    return locked


@transaction.atomic
def membership_event_record(*, event: MembershipEvent, actor) -> MembershipEvent:
    """Record a status change decided outside the application flow (admin). Audited."""
    from members.selectors import city_membership_status

    before = city_membership_status(event.city, on=event.effective_on) or ""
    event.save()
    audit(
        obj=event,
        action="membership.change",
        actor=actor,
        city=event.city,
        from_state=before,
        to_state=event.status,
        reason=event.decision_ref,
    )
    return event


# --- dues ----------------------------------------------------------------------------------
class DuesError(Exception):
    """A dues operation that is not allowed; the message is safe to show."""


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
    *, city: City, year: int, actor=None, issued_on: date | None = None
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
        raise DuesError(_("No dues tier covers the population of %(city)s.") % {"city": city})
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
    audit(obj=invoice, action="invoice.issue", actor=actor, city=city, to_state=str(invoice.total))
    return invoice, True


def invoices_issue_for_year(*, year: int, actor=None) -> int:
    """Issue `year`'s invoices for every city that is a member on 1 January or 31 December
    of that year (capped at today). Idempotent; returns how many were created."""
    from members.selectors import member_cities

    last_day = min(date(year, 12, 31), timezone.localdate())
    city_ids = set(member_cities(on=date(year, 1, 1)).values_list("pk", flat=True))
    city_ids |= set(member_cities(on=last_day).values_list("pk", flat=True))
    created = 0
    for city in City.objects.filter(pk__in=city_ids).exclude(invoices__year=year):
        try:
            _, was_created = invoice_issue(city=city, year=year, actor=actor)
        except DuesError:
            logger.warning("no dues tier for %s (population %s)", city, city.population)
            continue
        created += was_created
    return created


def invoice_outstanding(invoice: Invoice) -> Decimal:
    paid = invoice.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return invoice.total - paid


@transaction.atomic
def payment_record(
    *, invoice: Invoice, amount: Decimal, paid_on: date, reference: str = "", actor=None
) -> Payment:
    """Record a (possibly partial) payment. Atomic; association staff only.

    Refuses non-positive amounts, non-Decimal amounts and anything above what is still
    owed on the invoice; the invoice row is locked so two clerks cannot overpay it together.
    """
    if not isinstance(amount, Decimal):
        raise DuesError(_("Amounts are exact decimal numbers."))
    if amount <= 0:
        raise DuesError(_("A payment must be more than zero."))
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    outstanding = invoice_outstanding(invoice)
    if amount > outstanding:
        raise DuesError(
            _("Only %(outstanding)s UAH is still owed on this invoice.")
            % {"outstanding": money(outstanding)}
        )
    payment = Payment.objects.create(
        invoice=invoice, amount=amount, paid_on=paid_on, reference=reference
    )
    audit(
        obj=payment,
        action="payment.record",
        actor=actor,
        city=invoice.city,
        to_state=str(amount),
        data={"invoice": invoice.number},
    )
    return payment
