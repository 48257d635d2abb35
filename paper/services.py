"""Entering paper signatures and ballots: batches, lines, four-eyes confirmation, corrections.

Who: service centre clerks (and city administrators) of the batch's city. Every write is
atomic and audited (`paper.batch.*`, `paper.line.*`). A person counts once per petition or
programme across channels: each line claims the person's CountedAct at entry, under the
database's unique (scope, subject, key) constraint, so a clerk and the same person online
racing end with one counted act and a worded refusal for the other. A batch counts only
when a second clerk confirms it; a correction is a new line that voids the old one when its
own batch is confirmed. Lines are never edited in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import FrozenRules, Initiative, Programme, Stage
from opencity.accounts.models import User
from opencity.cities import access
from opencity.core import Refused
from opencity.core.services import audit
from opencity.core.transitions import transition
from opencity.identity import services as identity
from opencity.identity.keys import DocumentType, identity_key
from opencity.identity.models import CountedAct
from paper.models import Batch, Line, LineChoice
from petitions.models import Petition
from petitions.services import SIGNABLE_STATUSES, request_tally_on_commit

Status = Batch.Status


def _require_clerk(actor: User, city_id: int) -> None:
    if not access.can_act_on_city(actor, city_id, access.PAPER_ROLES):
        raise Refused(_("You may not enter paper acts for this city."), code="forbidden")


# --- opening a batch --------------------------------------------------------------------------


def batch_open(
    *,
    clerk: User,
    place: str,
    collected_on: date,
    scan: UploadedFile,
    petition: Petition | None = None,
    programme: Programme | None = None,
) -> Batch:
    """Open a batch of one petition's signatures or one programme's ballots. Refused when
    the petition is not collecting (or the day is outside its period), or the programme is
    not voting on that day."""
    if (petition is None) == (programme is None):
        raise Refused(_("Choose a petition or a public budget."), code="subject")
    if petition is not None:
        city_id, kind = petition.city_id, Batch.Kind.SIGNATURES
        _require_clerk(clerk, city_id)
        _check_petition_day(petition, collected_on)
    else:
        city_id, kind = programme.city_id, Batch.Kind.BALLOTS
        _require_clerk(clerk, city_id)
        if programme.stage_on(collected_on) != Stage.VOTING:
            raise Refused(
                _("Voting in this programme was not open on that day."),
                code="stage",
                field="collected_on",
            )
    if collected_on > timezone.localdate():
        raise Refused(_("The date is in the future."), code="date", field="collected_on")
    with transaction.atomic():
        batch = Batch.objects.create(
            city_id=city_id,
            kind=kind,
            petition=petition,
            programme=programme,
            place=place,
            collected_on=collected_on,
            scan=scan,
            entered_by=clerk,
        )
        audit(
            obj=batch,
            action="paper.batch.opened",
            actor=clerk,
            city=city_id,
            to_state=Status.ENTERING,
            data={"kind": kind, "subject": batch.subject_id},
        )
    return batch


def _check_petition_day(petition: Petition, day: date) -> None:
    if petition.status not in SIGNABLE_STATUSES or petition.published_at is None:
        raise Refused(_("This petition is not collecting signatures."), code="not_collecting")
    starts = timezone.localdate(petition.published_at)
    ends = timezone.localdate(petition.collection_ends_at) if petition.collection_ends_at else None
    if day < starts or (ends is not None and day > ends):
        raise Refused(
            _("The petition was not collecting signatures on that day."),
            code="date",
            field="collected_on",
        )


# --- entering lines ---------------------------------------------------------------------------


def _locked_open_batch(batch: Batch) -> Batch:
    # The batch row is held until commit: a confirmation waits for a line being entered and
    # a line never joins a batch that was confirmed meanwhile.
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != Status.ENTERING:
        raise Refused(_("This batch is closed: open a new one."), code="status")
    return locked


def line_enter(
    *,
    clerk: User,
    batch: Batch,
    full_name: str,
    id_kind: str,
    id_number: str,
    address: str,
    resident: bool = False,
    birth_date: date | None = None,
    initiative_ids: Iterable[int] = (),
    voids: Line | None = None,
) -> Line:
    """Enter one line of a sheet. Atomic; the line is refused (Refused, nothing stored) when
    the number is invalid, the person is already counted for this subject (online or on
    paper: "already counted, online, on 12 March"), or a ballot breaks the frozen rules.
    With `voids`, the line corrects a counted line of the same subject (in effect when this
    batch is confirmed)."""
    _require_clerk(clerk, batch.city_id)
    key = identity_key(id_kind, id_number)
    full_name, address = full_name.strip(), address.strip()
    if not full_name:
        raise Refused(_("Enter the name from the sheet."), code="name", field="full_name")
    if not address:
        raise Refused(_("Enter the address from the sheet."), code="address", field="address")
    picks = sorted(set(initiative_ids))
    with transaction.atomic():
        batch = _locked_open_batch(batch)
        if batch.kind == Batch.Kind.BALLOTS:
            _check_ballot(batch, picks, resident=resident, birth_date=birth_date)
        elif picks:
            raise Refused(_("A signature has no projects."), code="picks")
        if voids is not None:
            voids = _check_voidable(batch, voids)
        line = Line.objects.create(
            batch=batch,
            number=_next_number(batch),
            full_name=full_name,
            key=key,
            id_kind=id_kind,
            address=address,
            resident=resident,
            birth_date=birth_date,
            voids=voids,
            entered_by=clerk,
        )
        if voids is None or voids.key != key:
            _claim(batch, line)
        LineChoice.objects.bulk_create(
            [LineChoice(line=line, initiative_id=pk) for pk in picks], batch_size=100
        )
        audit(
            obj=line,
            action="paper.line.entered",
            actor=clerk,
            city=batch.city_id,
            data={"batch": batch.pk, "number": line.number, "voids": voids and voids.pk},
        )
    return line


def line_void(*, clerk: User, batch: Batch, voids: Line, reason: str) -> Line:
    """A correction that only voids a counted line (a person entered by mistake, a sheet
    line found invalid). In effect when `batch` is confirmed by a second clerk."""
    _require_clerk(clerk, batch.city_id)
    if not reason.strip():
        raise Refused(_("Say why the line is voided."), code="reason", field="reason")
    with transaction.atomic():
        batch = _locked_open_batch(batch)
        voids = _check_voidable(batch, voids)
        line = Line.objects.create(
            batch=batch, number=_next_number(batch), voids=voids, entered_by=clerk
        )
        audit(
            obj=line,
            action="paper.line.voiding",
            actor=clerk,
            city=batch.city_id,
            reason=reason.strip(),
            data={"batch": batch.pk, "number": line.number, "voids": voids.pk},
        )
    return line


def _next_number(batch: Batch) -> int:
    last = Line.objects.filter(batch=batch).order_by("-number").values_list("number", flat=True)
    return (last.first() or 0) + 1


def _claim(batch: Batch, line: Line) -> None:
    try:
        with transaction.atomic():
            CountedAct.objects.create(
                scope=batch.scope,
                subject_id=batch.subject_id,
                key=line.key,
                channel=CountedAct.Channel.PAPER,
                line_id=line.pk,
                created_at=line.entered_at,
            )
    except IntegrityError as exc:
        if not identity.is_counted_twice(exc):
            raise
        act = identity.counted_act(batch.scope, batch.subject_id, line.key)
        if act is None:  # the other act was rolled back meanwhile: let the clerk retry
            raise Refused(_("Please enter the line again."), code="retry") from None
        raise identity.person_already_counted(act) from None


def _check_voidable(batch: Batch, voids: Line) -> Line:
    """The line to void, read afresh, if it may be corrected from `batch`."""
    voids = Line.objects.select_related("batch").get(pk=voids.pk)
    other = voids.batch
    if other.kind != batch.kind or other.subject_id != batch.subject_id:
        raise Refused(_("That line belongs to another petition or budget."), code="voids")
    if not voids.is_counted:
        raise Refused(_("Only a counted line can be corrected."), code="voids")
    if Line.objects.filter(voids=voids).exists():
        raise Refused(_("That line already has a correction."), code="voids")
    return voids


def _check_ballot(
    batch: Batch, picks: list[int], *, resident: bool, birth_date: date | None
) -> None:
    """The programme's frozen rules, line by line (Refused with code "ballot")."""
    rules = FrozenRules.objects.filter(programme_id=batch.programme_id).first()
    if rules is None:
        raise Refused(_("Voting in this programme is not open."), code="stage")
    if not picks:
        raise Refused(_("Mark the projects chosen on the ballot."), code="ballot", field="picks")
    if len(picks) > rules.max_votes:
        raise Refused(
            _("The ballot chooses %(n)s projects; at most %(max)s are allowed.")
            % {"n": len(picks), "max": rules.max_votes},
            code="ballot",
            field="picks",
        )
    chosen = list(
        Initiative.objects.filter(
            pk__in=picks, programme_id=batch.programme_id, status__in=Initiative.ON_BALLOT
        ).values("pk", "category_id", "total_cost")
    )
    if len(chosen) != len(picks):
        raise Refused(_("A chosen project is not on this ballot."), code="ballot", field="picks")
    budgets = rules.category_budgets()
    for pick in chosen:
        if pick["category_id"] not in budgets:
            raise Refused(
                _("A chosen project is outside the programme's budget."),
                code="ballot",
                field="picks",
            )
    if rules.one_per_category and len({p["category_id"] for p in chosen}) != len(chosen):
        raise Refused(
            _("The ballot chooses two projects of one category; one per category is allowed."),
            code="ballot",
            field="picks",
        )
    if rules.residents_only and not resident:
        raise Refused(
            _("Only residents of the hromada may vote: check the address."),
            code="ballot",
            field="resident",
        )
    if rules.min_voter_age:
        if birth_date is None:
            raise Refused(
                _("Enter the date of birth from the ballot."), code="ballot", field="birth_date"
            )
        day = batch.collected_on
        age = (
            day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
        )
        if age < rules.min_voter_age:
            raise Refused(
                _("The voter was younger than %(age)s on the day of the ballot.")
                % {"age": rules.min_voter_age},
                code="ballot",
                field="birth_date",
            )


# --- four eyes ----------------------------------------------------------------------------------


def _require_second_clerk(batch: Batch, clerk: User) -> None:
    entered = (
        batch.entered_by_id == clerk.pk
        or Line.objects.filter(batch=batch, entered_by=clerk).exists()
    )
    if entered:
        raise Refused(
            _("A second clerk, who entered none of its lines, must confirm the batch."),
            code="four_eyes",
        )


def batch_confirm(*, clerk: User, batch: Batch) -> Batch:
    """Count the batch: a second clerk of the city confirms it. Atomic, exactly once (a
    second confirmation is refused). Its lines count from now; its corrections void the
    lines they correct; the petition is recounted after the commit."""
    _require_clerk(clerk, batch.city_id)
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        _require_second_clerk(batch, clerk)
        lines = list(Line.objects.filter(batch=batch).select_related("voids"))
        if not lines:
            raise Refused(_("The batch has no lines."), code="empty")
        corrections = [line for line in lines if line.voids_id]
        transition(
            batch,
            to=Status.CONFIRMED,
            allowed_from=[Status.ENTERING],
            action="paper.batch.confirmed",
            actor=clerk,
            city=batch.city_id,
            refused=_("This batch was already confirmed or rejected."),
            data={
                "counted": sum(1 for line in lines if line.key),
                "voided": len(corrections),
            },
            decided_by=clerk,
            decided_at=now,
        )
        Line.objects.filter(batch=batch, key__isnull=False).update(counted_at=now)
        for line in corrections:
            if not Line.objects.filter(pk=line.voids_id, voided_at=None).update(voided_at=now):
                raise Refused(_("A corrected line was voided meanwhile."), code="voids")
            claim = CountedAct.objects.filter(line_id=line.voids_id)
            if line.key and line.key == line.voids.key:
                claim.update(line_id=line.pk)  # the same person, a corrected name or address
            else:
                claim.delete()  # released: the person may sign or vote again
        _recount(batch)
    return batch


def batch_reject(*, clerk: User, batch: Batch, reason: str) -> Batch:
    """The second clerk rejects the batch (the sheets do not match what was entered): none
    of its lines count and their people are released. Atomic, audited with the reason."""
    _require_clerk(clerk, batch.city_id)
    if not reason.strip():
        raise Refused(_("Say why the batch is rejected."), code="reason", field="reason")
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        _require_second_clerk(batch, clerk)
        transition(
            batch,
            to=Status.REJECTED,
            allowed_from=[Status.ENTERING],
            action="paper.batch.rejected",
            actor=clerk,
            city=batch.city_id,
            reason=reason.strip(),
            refused=_("This batch was already confirmed or rejected."),
            decided_by=clerk,
            decided_at=timezone.now(),
        )
        CountedAct.objects.filter(
            channel=CountedAct.Channel.PAPER,
            line_id__in=Line.objects.filter(batch=batch).values("pk"),
        ).delete()
    return batch


def _recount(batch: Batch) -> None:
    if batch.petition_id:
        # counted_at cleared in this transaction: if the queued tally is lost (broker down),
        # the beat pass (petitions.services.tally_stale) recounts the petition anyway.
        Petition.objects.filter(pk=batch.petition_id).update(counted_at=None)
        request_tally_on_commit(batch.petition_id)


# --- counts -------------------------------------------------------------------------------------


def counted_lines() -> Q:
    return Q(counted_at__isnull=False, voided_at=None)


def paper_signature_counts(petition_ids: list[int]) -> dict[int, int]:
    rows = (
        Line.objects.filter(counted_lines(), batch__petition_id__in=petition_ids)
        .values("batch__petition_id")
        .annotate(n=Count("id"))
    )
    return {row["batch__petition_id"]: row["n"] for row in rows}


def paper_ballot_counts(programme_ids: list[int]) -> dict[int, int]:
    rows = (
        Line.objects.filter(counted_lines(), batch__programme_id__in=programme_ids)
        .values("batch__programme_id")
        .annotate(n=Count("id"))
    )
    return {row["batch__programme_id"]: row["n"] for row in rows}


def paper_vote_counts(initiative_ids: list[int]) -> dict[int, int]:
    rows = (
        LineChoice.objects.filter(
            initiative_id__in=initiative_ids,
            line__counted_at__isnull=False,
            line__voided_at=None,
        )
        .values("initiative_id")
        .annotate(n=Count("id"))
    )
    return {row["initiative_id"]: row["n"] for row in rows}


def paper_ballots(programme_ids: list[int]) -> dict[int, list[list[int]]]:
    """The counted paper ballots of programmes, each as its chosen projects (for rules that
    read whole ballots, like equal shares)."""
    ballots: dict[int, dict[int, list[int]]] = {}
    for programme_id, line_id, initiative_id in LineChoice.objects.filter(
        line__batch__programme_id__in=programme_ids,
        line__counted_at__isnull=False,
        line__voided_at=None,
    ).values_list("line__batch__programme_id", "line_id", "initiative_id"):
        ballots.setdefault(programme_id, {}).setdefault(line_id, []).append(initiative_id)
    return {pid: list(lines.values()) for pid, lines in ballots.items()}


# --- keys of online accounts --------------------------------------------------------------------


def clerk_confirm_identity(*, clerk: User, user: User, city, id_kind: str, id_number: str):
    """A clerk saw the person's document: the account gets its identity key (then its online
    acts and the paper ones are one person's)."""
    _require_clerk(clerk, getattr(city, "pk", city))
    return identity.person_key_confirm(
        user=user,
        kind=id_kind,
        number=id_number,
        source="clerk",
        actor=clerk,
        city=city,
    )


ID_KINDS = DocumentType.CHOICES
