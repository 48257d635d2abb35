"""Workflows of public budgets: submission, review, voting, tally, publication, implementation.

Every status change goes through a function here, claims its row with a conditional
`update()` (so concurrent or repeated calls change it once), writes an audit entry in the
same transaction, and records notifications in the outbox.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import (
    STAGE_END_FIELDS,
    Ballot,
    Category,
    CostLine,
    District,
    ImplementationUpdate,
    Initiative,
    Programme,
    ResultRow,
    ResultSnapshot,
    Stage,
    Vote,
)
from opencity.accounts.selectors import has_verified_email
from opencity.cities.models import StaffRole
from opencity.cities.selectors import city_staff
from opencity.core.services import audit, notify_user
from opencity.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

Status = Initiative.Status


class Refused(ValidationError):
    """A rule refused the action; `code` says which, the message is translated for people."""


# --- helpers ---------------------------------------------------------------------------------
def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class CostLineInput:
    description: str
    amount: Decimal


def _check_costs(*, category: Category, lines: list[CostLineInput]) -> Decimal:
    if not lines:
        raise Refused(_("Add at least one cost line."), code="no_lines")
    for line in lines:
        if not line.description.strip():
            raise Refused(_("Every cost line needs a description."), code="empty_line")
        if line.amount is None or line.amount <= 0:
            raise Refused(_("Every amount must be greater than zero."), code="amount")
    total = sum((line.amount for line in lines), Decimal("0"))
    if total > category.max_project_cost:
        raise Refused(
            _("The total cost %(total)s UAH is over this category's maximum of %(max)s UAH.")
            % {"total": total, "max": category.max_project_cost},
            code="over_max",
        )
    return total


def _check_place(*, programme: Programme, category: Category, district: District | None) -> None:
    if category.programme_id != programme.pk:
        raise Refused(_("Choose a category of this programme."), code="category")
    if district is not None and district.programme_id != programme.pk:
        raise Refused(_("Choose a district of this programme."), code="district")


def _write_lines(initiative: Initiative, lines: list[CostLineInput]) -> None:
    initiative.cost_lines.all().delete()
    CostLine.objects.bulk_create(
        CostLine(
            initiative=initiative,
            position=n,
            description=line.description.strip(),
            amount=line.amount,
        )
        for n, line in enumerate(lines, start=1)
    )


def _notify_author(initiative: Initiative, event: str, template: str, **context) -> None:
    notify_user(
        user=initiative.author,
        key=f"initiatives:{event}:i{initiative.pk}",
        template=template,
        context={"initiative": initiative, "programme": initiative.programme, **context},
        city=initiative.programme.city,
    )


def _notify_staff(programme: Programme, key: str, template: str, **context) -> None:
    for user in city_staff(programme.city, (StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN)):
        notify_user(
            user=user,
            key=key,
            template=template,
            context={"programme": programme, **context},
            city=programme.city,
        )


def _claim(initiative: Initiative, from_states: Iterable[str], **changes) -> bool:
    """Move the row out of one of `from_states`; True if this call did it (exactly once)."""
    done = Initiative.objects.filter(pk=initiative.pk, status__in=list(from_states)).update(
        updated_at=timezone.now(), **changes
    )
    if done:
        for field, value in changes.items():
            setattr(initiative, field, value)
    return done == 1


# --- submission ------------------------------------------------------------------------------
def initiative_submit(
    *,
    author,
    programme: Programme,
    category: Category,
    district: District | None,
    title: str,
    summary: str,
    description: str,
    address: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    cost_lines: list[CostLineInput],
) -> Initiative:
    """File a new initiative (atomic). Only verified users, only in the submission stage.

    The total cost is the sum of the lines, computed here; it must fit the category's maximum.
    Notifies the author (received) and the city's staff (new submission).
    """
    if not has_verified_email(author):
        raise Refused(_("Confirm your e-mail address before submitting."), code="unverified")
    if programme.stage != Stage.SUBMISSION:
        raise Refused(_("Submissions to this programme are closed."), code="stage")
    _check_place(programme=programme, category=category, district=district)
    total = _check_costs(category=category, lines=cost_lines)
    with transaction.atomic():
        initiative = Initiative.objects.create(
            programme=programme,
            category=category,
            district=district,
            author=author,
            title=title,
            summary=summary,
            description=description,
            address=address,
            latitude=latitude,
            longitude=longitude,
            total_cost=total,
            status=Status.SUBMITTED,
        )
        _write_lines(initiative, cost_lines)
        audit(
            obj=initiative,
            action="initiative_submitted",
            actor=author,
            city=programme.city,
            to_state=Status.SUBMITTED,
        )
        _notify_author(initiative, "received", "initiatives/received")
        _notify_staff(
            programme,
            f"initiatives:new:i{initiative.pk}",
            "initiatives/staff_new_submission",
            initiative=initiative,
        )
    return initiative


def initiative_resubmit(
    *,
    initiative: Initiative,
    author,
    category: Category,
    district: District | None,
    title: str,
    summary: str,
    description: str,
    address: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    cost_lines: list[CostLineInput],
) -> Initiative:
    """Revise an initiative the working group sent back, and resubmit it (atomic).

    Only its author, only while revision is requested and before review closes. The original
    submission time is kept (it breaks ties in the tally).
    """
    programme = initiative.programme
    if initiative.author_id != author.pk:
        raise Refused(_("Only the author may revise this initiative."), code="not_author")
    if initiative.status != Status.REVISION:
        raise Refused(_("This initiative is not waiting for a revision."), code="status")
    if timezone.localdate() > programme.review_closes:
        raise Refused(_("The review of this programme is over."), code="stage")
    _check_place(programme=programme, category=category, district=district)
    total = _check_costs(category=category, lines=cost_lines)
    with transaction.atomic():
        fields = {
            "category": category,
            "district": district,
            "title": title,
            "summary": summary,
            "description": description,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
            "total_cost": total,
            "status": Status.SUBMITTED,
        }
        if not _claim(initiative, [Status.REVISION], **fields):
            raise Refused(_("This initiative is not waiting for a revision."), code="status")
        _write_lines(initiative, cost_lines)
        entry = audit(
            obj=initiative,
            action="initiative_resubmitted",
            actor=author,
            city=programme.city,
            from_state=Status.REVISION,
            to_state=Status.SUBMITTED,
        )
        _notify_staff(
            programme,
            f"initiatives:resubmitted:a{entry.pk}",
            "initiatives/staff_new_submission",
            initiative=initiative,
            resubmitted=True,
        )
    return initiative


def initiative_withdraw(*, initiative: Initiative, author) -> Initiative:
    """The author withdraws the initiative before the review ends (atomic, once)."""
    if initiative.author_id != author.pk:
        raise Refused(_("Only the author may withdraw this initiative."), code="not_author")
    if timezone.localdate() > initiative.programme.review_closes:
        raise Refused(
            _("The review is over: the initiative can no longer be withdrawn."), code="stage"
        )
    from_state = initiative.status
    with transaction.atomic():
        if not _claim(
            initiative,
            [Status.SUBMITTED, Status.REVISION, Status.ACCEPTED],
            status=Status.WITHDRAWN,
        ):
            raise Refused(_("This initiative cannot be withdrawn now."), code="status")
        audit(
            obj=initiative,
            action="initiative_withdrawn",
            actor=author,
            city=initiative.programme.city,
            from_state=from_state,
            to_state=Status.WITHDRAWN,
        )
    return initiative


# --- review (city working group) -----------------------------------------------------------
def _check_reviewer(initiative: Initiative, actor) -> None:
    from opencity.cities.access import can_act_on_city

    if not can_act_on_city(
        actor, initiative.programme.city_id, [StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN]
    ):
        raise Refused(_("You may not review this city's initiatives."), code="forbidden")
    if initiative.programme.voting_has_started:
        raise Refused(_("Voting has started: the review is closed."), code="stage")


def initiative_accept(*, initiative: Initiative, actor, comment: str = "") -> Initiative:
    """Accept for voting (atomic, once). City staff of the programme's city, before voting."""
    _check_reviewer(initiative, actor)
    with transaction.atomic():
        if not _claim(
            initiative, [Status.SUBMITTED], status=Status.ACCEPTED, review_comment=comment
        ):
            raise Refused(_("Only an initiative under review can be accepted."), code="status")
        audit(
            obj=initiative,
            action="initiative_accepted",
            actor=actor,
            city=initiative.programme.city,
            from_state=Status.SUBMITTED,
            to_state=Status.ACCEPTED,
            reason=comment,
        )
        _notify_author(initiative, "accepted", "initiatives/accepted")
    return initiative


def initiative_request_revision(*, initiative: Initiative, actor, comment: str) -> Initiative:
    """Send back to the author with comments (atomic, once per submission round)."""
    _check_reviewer(initiative, actor)
    if not comment.strip():
        raise Refused(_("Tell the author what to change."), code="comment")
    with transaction.atomic():
        if not _claim(
            initiative, [Status.SUBMITTED], status=Status.REVISION, review_comment=comment
        ):
            raise Refused(_("Only an initiative under review can be sent back."), code="status")
        entry = audit(
            obj=initiative,
            action="initiative_revision_requested",
            actor=actor,
            city=initiative.programme.city,
            from_state=Status.SUBMITTED,
            to_state=Status.REVISION,
            reason=comment,
        )
        # One e-mail per request (several rounds of revision are possible).
        _notify_author(
            initiative, f"revision:a{entry.pk}", "initiatives/revision_requested", comment=comment
        )
    return initiative


def initiative_reject(
    *, initiative: Initiative, actor, reason: str, comment: str = ""
) -> Initiative:
    """Reject with a recorded reason (atomic, once). City staff, before voting."""
    _check_reviewer(initiative, actor)
    if reason not in Initiative.RejectionReason.values:
        raise Refused(_("Choose the reason for rejection."), code="reason")
    if reason == Initiative.RejectionReason.OTHER and not comment.strip():
        raise Refused(_("Explain the reason for rejection."), code="comment")
    from_state = initiative.status
    with transaction.atomic():
        if not _claim(
            initiative,
            [Status.SUBMITTED, Status.REVISION],
            status=Status.REJECTED,
            rejection_reason=reason,
            review_comment=comment,
        ):
            raise Refused(_("This initiative cannot be rejected now."), code="status")
        audit(
            obj=initiative,
            action="initiative_rejected",
            actor=actor,
            city=initiative.programme.city,
            from_state=from_state,
            to_state=Status.REJECTED,
            reason=f"{reason}: {comment}".strip(": "),
        )
        _notify_author(
            initiative,
            "rejected",
            "initiatives/rejected",
            reason=Initiative.RejectionReason(reason).label,
            comment=comment,
        )
    return initiative


# --- programme stages ------------------------------------------------------------------------
def programme_extend_stage(
    *, programme: Programme, stage: str, until: date, actor, reason: str
) -> Programme:
    """Move the closing date of a stage later (atomic, audited). City staff of the city.

    Later stages are not moved: the new date must keep the stages in order (the database
    refuses otherwise). Staff are notified of the change.
    """
    from opencity.cities.access import can_act_on_city

    if not can_act_on_city(
        actor, programme.city_id, [StaffRole.Role.CITY_ADMIN, StaffRole.Role.MODERATOR]
    ):
        raise Refused(_("You may not change this city's programmes."), code="forbidden")
    field = STAGE_END_FIELDS.get(stage)
    if field is None:
        raise Refused(_("This stage cannot be extended."), code="stage")
    old = getattr(programme, field)
    if until <= old:
        raise Refused(_("An extension must end later than the stage does now."), code="date")
    if not reason.strip():
        raise Refused(_("Give the reason for the extension."), code="reason")
    try:
        with transaction.atomic():
            Programme.objects.filter(pk=programme.pk).update(**{field: until})
            programme.refresh_from_db()
            audit(
                obj=programme,
                action="stage_extended",
                actor=actor,
                city=programme.city,
                from_state=old.isoformat(),
                to_state=until.isoformat(),
                reason=reason,
                data={"stage": stage, "field": field},
            )
            _notify_staff(
                programme,
                f"initiatives:extended:p{programme.pk}:{field}:{until}",
                "initiatives/staff_stage_changed",
                stage=Stage(stage).label,
                until=until,
                extended=True,
            )
    except IntegrityError as exc:
        programme.refresh_from_db()
        raise Refused(
            _("The new date would overlap the next stage; move that stage first."), code="order"
        ) from exc
    return programme


def programme_announce_stage(*, programme_id: int, today: date | None = None) -> bool:
    """Tell the city's staff the programme entered a new stage (idempotent, once per stage)."""
    programme = Programme.objects.select_related("city").get(pk=programme_id)
    stage = programme.stage_on(today or timezone.localdate())
    with transaction.atomic():
        claimed = (
            Programme.objects.filter(pk=programme.pk)
            .exclude(announced_stage=stage)
            .update(announced_stage=stage)
        )
        if not claimed:
            return False
        audit(
            obj=programme,
            action="stage_changed",
            city=programme.city,
            from_state=programme.announced_stage,
            to_state=stage,
        )
        _notify_staff(
            programme,
            f"initiatives:stage:p{programme.pk}:{stage}",
            "initiatives/staff_stage_changed",
            stage=Stage(stage).label,
        )
    return True


# --- voting ----------------------------------------------------------------------------------
_UNVERIFIED = _("Confirm your e-mail address before voting.")


def vote_check_voter(
    *, voter, programme: Programme, today: date | None = None, check_email: bool = True
) -> None:
    """Raise Refused if `voter` may not vote in `programme` at all (rules that do not depend
    on the ballot): stage, e-mail verified (unless the caller checks it itself), residency,
    age."""
    today = today or timezone.localdate()
    if programme.stage_on(today) != Stage.VOTING:
        raise Refused(_("Voting in this programme is not open."), code="stage")
    if not voter.is_authenticated or not voter.is_active:
        raise Refused(_("Sign in to vote."), code="anonymous")
    if check_email and not has_verified_email(voter):
        raise Refused(_UNVERIFIED, code="unverified")
    if programme.residents_only and voter.home_city_id != programme.city_id:
        raise Refused(
            _("Only residents of %(city)s may vote. Set your home city in your profile.")
            % {"city": programme.city.name},
            code="resident",
        )
    if programme.min_voter_age:
        if voter.date_of_birth is None:
            raise Refused(
                _("Add your date of birth to your profile: voters must be at least %(age)s.")
                % {"age": programme.min_voter_age},
                code="age_unknown",
            )
        if age_on(voter.date_of_birth, today) < programme.min_voter_age:
            raise Refused(
                _("Voters must be at least %(age)s years old.") % {"age": programme.min_voter_age},
                code="age",
            )


def vote_cast(*, voter, initiative: Initiative, notify: bool | None = None) -> Vote:
    """Cast one final vote. Any signed-in voter the programme's rules allow.

    Guarantees, under any concurrency: at most `max_votes` votes per voter and programme,
    one vote per project, at most one per category when the programme says so, only during
    voting, never for one's own project, only with a verified e-mail. The checks run inside
    the inserting statement, and unique constraints back them under races: (ballot, position)
    for the limit, (voter, initiative) and (ballot, category slot). On PostgreSQL a vote is
    one statement that also reads the initiative and its programme's rules (see
    _VOTE_STATEMENT_SQL); elsewhere one transaction holding the voter's ballot row.
    Never locks a row shared with other voters; needs no broker.
    """
    if connection.vendor == "postgresql":
        return _vote_in_one_statement(
            voter=voter, programme_slug=None, initiative_pk=initiative.pk, notify=notify
        )
    return _vote_in_transaction(voter=voter, initiative=initiative, notify=notify)


def vote_cast_for(
    *, voter, programme_slug: str, initiative_pk: int, notify: bool | None = None
) -> Vote:
    """vote_cast() for the vote page: the initiative is named by its programme's slug and its
    id. Raises Initiative.DoesNotExist if there is no such initiative in that programme. The
    vote carries its initiative (title, programme) for the answer."""
    if connection.vendor == "postgresql":
        return _vote_in_one_statement(
            voter=voter, programme_slug=programme_slug, initiative_pk=initiative_pk, notify=notify
        )
    from initiatives.selectors import initiative_for_vote

    initiative = initiative_for_vote(programme_slug, initiative_pk)
    if initiative is None:
        raise Initiative.DoesNotExist
    return _vote_in_transaction(voter=voter, initiative=initiative, notify=notify)


def _check_vote_rules(voter, initiative: Initiative, programme: Programme, today: date) -> None:
    """The rules that do not depend on the ballot, in the order a voter should hear them."""
    vote_check_voter(voter=voter, programme=programme, today=today, check_email=False)
    if initiative.status not in Initiative.ON_BALLOT:
        raise Refused(_("This project is not on the ballot."), code="not_on_ballot")
    if initiative.author_id == voter.pk:
        raise Refused(_("You cannot vote for your own project."), code="own")


def _vote_in_transaction(*, voter, initiative: Initiative, notify: bool | None) -> Vote:
    """Any database: the rules checked here, then one transaction holding the ballot row."""
    programme = initiative.programme
    _check_vote_rules(voter, initiative, programme, timezone.localdate())
    params = {
        "voter": voter.pk,
        "programme": programme.pk,
        "initiative": initiative.pk,
        "category": initiative.category_id,
        "slot": initiative.category_id if programme.one_per_category else None,
        "max_votes": programme.max_votes,
        "notify": bool(notify),
    }
    # A statement that lost a race with the same voter's other vote retries with fresh data;
    # each lost race means another vote was recorded, so max_votes + 1 attempts always end.
    for _attempt in range(programme.max_votes + 1):
        now = timezone.now()
        params["now"] = connection.ops.adapt_datetimefield_value(now)
        row, refusal = _cast_in_transaction(params)
        if row is not None:
            return _vote(voter, initiative, programme, row, now)
        if refusal is None:  # only a lost race: the retry reads fresh data
            refusal = _why_no_vote(voter, initiative, programme)
        if refusal is not None:
            raise _REFUSALS[refusal]()
    raise _REFUSALS["retry"]()  # pragma: no cover - unreachable, see above


def _vote(voter, initiative: Initiative, programme: Programme, row, now) -> Vote:
    """The Vote just inserted (row: id, position, ballot id), without another query."""
    vote = Vote(
        pk=row[0],
        ballot_id=row[2],
        voter_id=voter.pk,
        programme_id=programme.pk,
        initiative=initiative,
        category_id=initiative.category_id,
        position=row[1],
        category_slot_id=initiative.category_id if programme.one_per_category else None,
        created_at=now,
    )
    vote._state.adding = False
    return vote


# PostgreSQL, one statement in autocommit. It reads the initiative and its programme's rules
# (`target`), keeps them only if every rule that does not depend on the ballot passes
# (`eligible`: on the ballot, not the voter's own, voting stage today, residency, age), then
# creates or locks the voter's ballot (ON CONFLICT DO UPDATE locks it, so the same voter's
# statements run one after another; no ballot without a verified e-mail address) and inserts
# the vote at the next position if the ballot allows it. The counts come from the statement's
# snapshot: if the same voter's other vote committed meanwhile, the position collides with it
# and the unique constraint turns the insert into nothing (the caller retries with fresh
# data), so no race can pass a rule. The row returned carries what was read, so a refusal is
# worded without another query, and nothing is returned for an unknown initiative.
_VOTE_STATEMENT_SQL = """
    WITH target AS (
        SELECT i.id, i.title, i.status, i.author_id, i.category_id, p.id AS programme_id,
               p.slug, p.city_id, p.max_votes, p.one_per_category, p.residents_only,
               p.min_voter_age, p.submission_opens, p.submission_closes, p.voting_opens,
               p.voting_closes, p.implementation_starts
        FROM initiatives_initiative i
        JOIN initiatives_programme p ON p.id = i.programme_id
        WHERE i.id = %(initiative)s AND (%(slug)s::text IS NULL OR p.slug = %(slug)s::text)
    ), eligible AS (
        SELECT * FROM target
        WHERE status IN (%(s1)s, %(s2)s, %(s3)s)
          AND author_id IS DISTINCT FROM %(voter)s
          AND %(today)s::date >= submission_opens AND %(today)s::date > submission_closes
          AND %(today)s::date >= voting_opens AND %(today)s::date <= voting_closes
          AND (NOT residents_only OR city_id = %(home_city)s::bigint)
          AND (min_voter_age = 0
               OR %(birth)s::date <= %(today)s::date - make_interval(years => min_voter_age))
    ), ballot AS (
        INSERT INTO initiatives_ballot (voter_id, programme_id, notify, created_at)
        SELECT %(voter)s, eligible.programme_id, %(notify)s, now() FROM eligible
        WHERE EXISTS (SELECT 1 FROM account_emailaddress e
                      WHERE e.user_id = %(voter)s AND e.verified)
        ON CONFLICT (voter_id, programme_id)
        DO UPDATE SET notify = initiatives_ballot.notify OR EXCLUDED.notify
        RETURNING id
    ), cast_votes AS (
        SELECT COUNT(v.id) AS n,
               COUNT(v.id) FILTER (WHERE v.initiative_id = %(initiative)s) AS same_project,
               COUNT(v.id) FILTER (WHERE v.category_id = eligible.category_id) AS same_category
        FROM eligible
        JOIN ballot ON true
        LEFT JOIN initiatives_vote v ON v.ballot_id = ballot.id
    ), inserted AS (
        INSERT INTO initiatives_vote (ballot_id, voter_id, programme_id, initiative_id,
                                      category_id, position, category_slot_id, created_at)
        SELECT ballot.id, %(voter)s, e.programme_id, e.id, e.category_id, cast_votes.n + 1,
               CASE WHEN e.one_per_category THEN e.category_id END, %(now)s
        FROM eligible e, ballot, cast_votes
        WHERE cast_votes.n < e.max_votes
          AND cast_votes.same_project = 0
          AND (NOT e.one_per_category OR cast_votes.same_category = 0)
        ON CONFLICT DO NOTHING
        RETURNING id, position
    )
    SELECT target.*, inserted.id, inserted.position, (SELECT id FROM ballot),
           cast_votes.n, cast_votes.same_project, cast_votes.same_category,
           EXISTS (SELECT 1 FROM eligible)
    FROM target
    LEFT JOIN cast_votes ON true
    LEFT JOIN inserted ON true
"""

_TARGET_PROGRAMME_FIELDS = (
    "slug", "city_id", "max_votes", "one_per_category", "residents_only", "min_voter_age",
    "submission_opens", "submission_closes", "voting_opens", "voting_closes",
    "implementation_starts",
)  # fmt: skip


def _vote_in_one_statement(
    *, voter, programme_slug: str | None, initiative_pk: int, notify: bool | None
) -> Vote:
    s1, s2, s3 = Initiative.ON_BALLOT
    today = timezone.localdate()
    params = {
        "voter": voter.pk,
        "initiative": initiative_pk,
        "slug": programme_slug,
        "s1": s1,
        "s2": s2,
        "s3": s3,
        "today": today,
        "home_city": voter.home_city_id,
        "birth": voter.date_of_birth,
        "notify": bool(notify),
    }
    attempts = 1
    while True:
        now = timezone.now()
        params["now"] = now
        with connection.cursor() as cursor:
            cursor.execute(_VOTE_STATEMENT_SQL, params)
            row = cursor.fetchone()
        if row is None:
            raise Initiative.DoesNotExist
        initiative, programme = _vote_target(row)
        vote_id, position, ballot_id, count, same_project, same_category, eligible = row[17:]
        if vote_id is not None:
            return _vote(voter, initiative, programme, (vote_id, position, ballot_id), now)
        # Nothing recorded: say why, from what the statement read.
        _check_vote_rules(voter, initiative, programme, today)
        if not eligible:  # the database and the rules above disagree: never a silent vote
            logger.warning("vote refused by the database alone (initiative %s)", initiative_pk)
            raise _REFUSALS["retry"]()
        refusal = _ballot_refusal(
            programme,
            verified=ballot_id is not None,  # no ballot is created without a verified address
            cast=count,
            same_project=bool(same_project),
            same_category=bool(same_category),
        )
        if refusal is not None:
            raise _REFUSALS[refusal]()
        # Only a lost race with the same voter's other vote: retry with fresh data. Each lost
        # race means another vote was recorded, so max_votes + 1 attempts always end.
        if attempts > programme.max_votes:  # pragma: no cover - unreachable by the argument
            raise _REFUSALS["retry"]()
        attempts += 1


def _vote_target(row) -> tuple[Initiative, Programme]:
    """The initiative and programme (only the columns the rules read) from the vote row."""
    programme = Programme(pk=row[5], **dict(zip(_TARGET_PROGRAMME_FIELDS, row[6:17], strict=True)))
    programme._state.adding = False
    initiative = Initiative(
        pk=row[0], title=row[1], status=row[2], author_id=row[3], category_id=row[4]
    )
    initiative.programme = programme
    initiative._state.adding = False
    return initiative, programme


def _cast_in_transaction(params: dict) -> tuple[tuple | None, str | None]:
    """Any database: hold the voter's ballot row, then insert if the checks pass."""
    with transaction.atomic():
        ballot_id = _lock_ballot(
            voter_id=params["voter"], programme_id=params["programme"], notify=params["notify"]
        )
        if ballot_id is None:
            return None, "unverified"
        with connection.cursor() as cursor:
            cursor.execute(_CAST_VOTE_SQL, {**params, "ballot": ballot_id})
            row = cursor.fetchone()
        return ((*row, ballot_id), None) if row else (None, None)


# The ballot row is locked by this transaction before this statement runs, so the counts
# below see every vote of this ballot that was ever committed (READ COMMITTED takes a fresh
# snapshot per statement; SQLite runs write transactions one at a time).
_CAST_VOTE_SQL = """
    INSERT INTO initiatives_vote (ballot_id, voter_id, programme_id, initiative_id, category_id,
                                  position, category_slot_id, created_at)
    SELECT %(ballot)s, %(voter)s, %(programme)s, %(initiative)s, %(category)s,
           cast_votes.n + 1, %(slot)s, %(now)s
    FROM (SELECT COUNT(*) AS n FROM initiatives_vote WHERE ballot_id = %(ballot)s) cast_votes
    WHERE cast_votes.n < %(max_votes)s
      AND NOT EXISTS (SELECT 1 FROM initiatives_vote
                      WHERE ballot_id = %(ballot)s AND initiative_id = %(initiative)s)
      AND (CAST(%(slot)s AS BIGINT) IS NULL OR NOT EXISTS (SELECT 1 FROM initiatives_vote
                      WHERE ballot_id = %(ballot)s AND category_id = %(category)s))
    RETURNING id, position
"""


def _why_no_vote(voter, initiative: Initiative, programme: Programme) -> str | None:
    """Why nothing was inserted, from fresh reads; None when the voter lost a race and may
    simply try again."""
    verified = has_verified_email(voter)
    cast = (
        list(
            Vote.objects.filter(voter=voter, programme=programme).values_list(
                "initiative_id", "category_id"
            )
        )
        if verified
        else []
    )
    return _ballot_refusal(
        programme,
        verified=verified,
        cast=len(cast),
        same_project=any(initiative_id == initiative.pk for initiative_id, _cat in cast),
        same_category=any(cat == initiative.category_id for _i, cat in cast),
    )


def _ballot_refusal(
    programme: Programme, *, verified: bool, cast: int, same_project: bool, same_category: bool
) -> str | None:
    """Which ballot rule refuses the vote (a key of _REFUSALS), in the order a voter should
    hear them; None when none does (the voter lost a race with their own other vote)."""
    if not verified:
        return "unverified"
    if same_project:
        return "twice"
    if cast >= programme.max_votes:
        return "limit"
    if programme.one_per_category and same_category:
        return "category"
    return None


_REFUSALS = {
    "unverified": lambda: Refused(_UNVERIFIED, code="unverified"),
    "twice": lambda: Refused(_("You have already voted for this project."), code="twice"),
    "limit": lambda: Refused(_("You have used all your votes in this programme."), code="limit"),
    "category": lambda: Refused(_("You have already voted in this category."), code="category"),
    "retry": lambda: Refused(_("Your vote could not be recorded. Please try again."), code="retry"),
}


# One statement creates the ballot if needed and locks its row (ON CONFLICT DO UPDATE locks
# the existing row, like SELECT ... FOR UPDATE); it returns nothing when the voter has no
# verified e-mail address, so that check costs no extra round trip.
_LOCK_BALLOT_SQL = """
    INSERT INTO initiatives_ballot (voter_id, programme_id, notify, created_at)
    SELECT %(voter)s, %(programme)s, %(notify)s, now()
    WHERE EXISTS (SELECT 1 FROM account_emailaddress e
                  WHERE e.user_id = %(voter)s AND e.verified)
    ON CONFLICT (voter_id, programme_id)
    DO UPDATE SET notify = initiatives_ballot.notify OR EXCLUDED.notify
    RETURNING id
"""


def _lock_ballot(*, voter_id: int, programme_id: int, notify: bool) -> int | None:
    """Create the voter's ballot if needed and lock its row until the transaction ends.

    Returns None if the voter has no verified e-mail address. PostgreSQL does it in one
    upsert; elsewhere, insert-if-missing then select_for_update().
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _LOCK_BALLOT_SQL, {"voter": voter_id, "programme": programme_id, "notify": notify}
            )
            row = cursor.fetchone()
            return row[0] if row else None
    if not EmailAddress.objects.filter(user_id=voter_id, verified=True).exists():
        return None
    Ballot.objects.bulk_create(
        [Ballot(voter_id=voter_id, programme_id=programme_id, notify=notify)],
        ignore_conflicts=True,
    )
    ballot = Ballot.objects.select_for_update().get(voter_id=voter_id, programme_id=programme_id)
    if notify and not ballot.notify:
        Ballot.objects.filter(pk=ballot.pk).update(notify=True)
    return ballot.pk


def ballot_set_notify(*, voter, programme: Programme, notify: bool) -> None:
    """Opt in or out of the results and implementation e-mails (only with a ballot)."""
    Ballot.objects.filter(voter=voter, programme=programme).update(notify=notify)


# --- tally -----------------------------------------------------------------------------------
@dataclass
class TallyRow:
    initiative_id: int
    category_id: int
    votes: int
    amount: Decimal
    # Orders ties: the submission time, or (in the tally) the submission order as an integer.
    submitted_at: object
    rank: int = 0
    winner: bool = False


def pick_winners(rows: list[TallyRow], budgets: dict[int, Decimal]) -> list[TallyRow]:
    """Per category: most votes first (ties: earlier submission, then lower id); a project
    wins if it still fits the category's remaining budget, otherwise it is skipped and the
    next one is tried. Projects without a vote never win."""
    ordered = sorted(rows, key=lambda r: (r.category_id, -r.votes, r.submitted_at, r.initiative_id))
    remaining = dict(budgets)
    rank: dict[int, int] = {}
    for row in ordered:
        rank[row.category_id] = rank.get(row.category_id, 0) + 1
        row.rank = rank[row.category_id]
        left = remaining.get(row.category_id, Decimal("0"))
        row.winner = row.votes > 0 and row.amount <= left
        if row.winner:
            remaining[row.category_id] = left - row.amount
    return ordered


def _content_hash(programme: Programme, budgets: dict[int, Decimal], rows: list[TallyRow]) -> str:
    payload = {
        "programme": programme.pk,
        "budgets": {str(k): str(v) for k, v in sorted(budgets.items())},
        "rows": [
            [r.initiative_id, r.category_id, r.rank, r.votes, str(r.amount), r.winner] for r in rows
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


_TALLY_INPUTS_SQL = """
    WITH counts AS MATERIALIZED (
        SELECT initiative_id, COUNT(*) AS n FROM initiatives_vote
        WHERE programme_id = %(programme)s GROUP BY initiative_id
    )
    SELECT i.id, i.category_id, i.total_cost,
           row_number() OVER (ORDER BY i.submitted_at, i.id), COALESCE(counts.n, 0), cat.budget
    FROM initiatives_initiative i
    JOIN initiatives_category cat ON cat.id = i.category_id
    LEFT JOIN counts ON counts.initiative_id = i.id
    WHERE i.programme_id = %(programme)s AND i.status IN (%(s1)s, %(s2)s, %(s3)s)
"""


def _tally_inputs(programme_id: int) -> tuple[list[TallyRow], dict[int, Decimal]]:
    """Candidates with their vote counts and their categories' budgets.

    One statement (one round trip): the vote counts come from a GROUP BY over the vote rows
    (an index-only scan of (programme, initiative)). Votes can only exist for projects on
    the ballot, which stay on it once voting starts, so the candidates' counts are all votes.
    Ties are broken by submission order, which the database returns as an integer.
    """
    s1, s2, s3 = Initiative.ON_BALLOT
    params = {"programme": programme_id, "s1": s1, "s2": s2, "s3": s3}
    with _driver_cursor() as cursor:
        cursor.execute(_TALLY_INPUTS_SQL, params)
        fetched = cursor.fetchall()
    rows, budgets = [], {}
    for pk, category_id, cost, order, votes, budget in fetched:
        rows.append(
            TallyRow(
                initiative_id=pk,
                category_id=category_id,
                votes=int(votes),
                amount=_money(cost),
                submitted_at=int(order),
            )
        )
        budgets[category_id] = _money(budget)
    return rows, budgets


def _driver_cursor():
    """For the tally's bulk statements: on PostgreSQL, a psycopg cursor on Django's connection
    (same transaction) that binds parameters on the server and converts results without
    Django's per-value wrappers. Django's own cursor quotes every array element into the SQL
    text, which costs more than the statement for a tally's 500-element arrays."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def _money(value) -> Decimal:
    # PostgreSQL returns Decimal; SQLite (demo) may return a float or text for a raw query.
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(Decimal("0.01"))


def tally_programme(*, programme_id: int, actor=None, force: bool = False) -> ResultSnapshot:
    """Count votes per initiative from the vote rows and store the result (idempotent, atomic).

    Runs after voting closes (`force` skips that check: tests and benchmarks only). Never
    changes votes. The snapshot and its rows are written in one transaction, so a crash
    leaves nothing; the same votes give the same content hash, and the unique (programme,
    hash) constraint makes a second run return the existing snapshot and record nothing.
    """
    programme = Programme.objects.only("id", "city_id", "voting_closes").get(pk=programme_id)
    if not force and timezone.localdate() <= programme.voting_closes:
        raise Refused(_("The tally runs once voting has closed."), code="stage")
    rows, budgets = _tally_inputs(programme.pk)
    rows = pick_winners(rows, budgets)
    snapshot = ResultSnapshot(
        programme=programme,
        content_hash=_content_hash(programme, budgets, rows),
        total_votes=sum(r.votes for r in rows),
        funded_amount=sum((r.amount for r in rows if r.winner), Decimal("0")),
    )
    with transaction.atomic():
        recorded = _record_snapshot(snapshot, rows)
        if recorded:
            audit(
                obj=snapshot,
                action="tally_recorded",
                actor=actor,
                city=programme.city_id,
                data={"hash": snapshot.content_hash, "votes": snapshot.total_votes},
            )
    if not recorded:  # the same result is already recorded (a second or concurrent run)
        return ResultSnapshot.objects.get(programme=programme, content_hash=snapshot.content_hash)
    return snapshot


# PostgreSQL: the snapshot and its rows in one statement; nothing when the same result
# (programme, content hash) is already recorded, including by a concurrent run.
_RECORD_SNAPSHOT_SQL = """
    WITH snapshot AS (
        INSERT INTO initiatives_resultsnapshot
            (programme_id, content_hash, created_at, total_votes, funded_amount)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT ON CONSTRAINT snapshot_unique_content DO NOTHING
        RETURNING id
    ), result_rows AS (
        INSERT INTO initiatives_resultrow
            (snapshot_id, initiative_id, category_id, rank, votes, amount, winner)
        SELECT snapshot.id, r.* FROM snapshot, unnest(
            %b::bigint[], %b::bigint[], %b::integer[], %b::integer[], %b::numeric[], %b::boolean[]
        ) AS r
    )
    SELECT id FROM snapshot
"""


def _record_snapshot(snapshot: ResultSnapshot, rows: list[TallyRow]) -> bool:
    """Save the snapshot and its rows; False (and nothing written) if the same result exists.
    Call inside a transaction."""
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                snapshot.save(force_insert=True)
                ResultRow.objects.bulk_create(
                    ResultRow(
                        snapshot_id=snapshot.pk,
                        initiative_id=r.initiative_id,
                        category_id=r.category_id,
                        rank=r.rank,
                        votes=r.votes,
                        amount=r.amount,
                        winner=r.winner,
                    )
                    for r in rows
                )
        except IntegrityError:
            return False
        return True
    columns = (
        [r.initiative_id for r in rows],
        [r.category_id for r in rows],
        [r.rank for r in rows],
        [r.votes for r in rows],
        [r.amount for r in rows],
        [r.winner for r in rows],
    )
    params = [
        snapshot.programme_id,
        snapshot.content_hash,
        snapshot.created_at,
        snapshot.total_votes,
        snapshot.funded_amount,
        *columns,
    ]
    with _driver_cursor() as cursor:
        cursor.execute(_RECORD_SNAPSHOT_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return False
    snapshot.pk = row[0]
    snapshot._state.adding = False
    return True


def tally_request(*, programme: Programme, actor) -> None:
    """Staff ask for a tally now; the task is queued on commit (a beat pass also runs it)."""
    from initiatives.tasks import tally

    if timezone.localdate() <= programme.voting_closes:
        raise Refused(_("The tally runs once voting has closed."), code="stage")
    audit(obj=programme, action="tally_requested", actor=actor, city=programme.city)
    enqueue_on_commit(tally, programme.pk)


def programmes_due_for_tally(today: date | None = None) -> list[int]:
    """Programmes whose voting has closed and that have no snapshot yet."""
    today = today or timezone.localdate()
    return list(
        Programme.objects.filter(voting_closes__lt=today, snapshots__isnull=True).values_list(
            "pk", flat=True
        )
    )


# --- results ---------------------------------------------------------------------------------
def results_publish(*, snapshot: ResultSnapshot, actor) -> ResultSnapshot:
    """Publish a tally result (atomic, once). City staff of the programme's city.

    Marks the programme's projects funded / not funded and queues one task that e-mails the
    authors and the voters who opted in (a periodic pass recovers a broker outage).
    """
    from opencity.cities.access import can_act_on_city

    programme = snapshot.programme
    if not can_act_on_city(
        actor, programme.city_id, [StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN]
    ):
        raise Refused(_("You may not publish this city's results."), code="forbidden")
    latest = (
        ResultSnapshot.objects.filter(programme=programme).order_by("-created_at", "-id").first()
    )
    if latest is None or latest.pk != snapshot.pk:
        raise Refused(_("Only the latest tally can be published."), code="stale")
    now = timezone.now()
    with transaction.atomic():
        # Turnout is recorded with the publication, not by the tally (which decides winners
        # and is kept to the GROUP BY): every voter has exactly one vote in slot 1.
        voters = Vote.objects.filter(programme_id=programme.pk, position=1).count()
        claimed = ResultSnapshot.objects.filter(pk=snapshot.pk, published_at__isnull=True).update(
            published_at=now, published_by=actor, total_voters=voters
        )
        if not claimed:
            raise Refused(_("These results are already published."), code="published")
        snapshot.published_at, snapshot.published_by = now, actor
        snapshot.total_voters = voters
        winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
        all_ids = set(snapshot.rows.values_list("initiative_id", flat=True))
        Initiative.objects.filter(pk__in=winners).update(status=Status.FUNDED)
        Initiative.objects.filter(pk__in=all_ids - winners).update(status=Status.NOT_FUNDED)
        audit(
            obj=snapshot,
            action="results_published",
            actor=actor,
            city=programme.city,
            data={"winners": sorted(winners)},
        )
        from initiatives.tasks import notify_voters_of_results

        enqueue_on_commit(notify_voters_of_results, snapshot.pk)
    return snapshot


def notify_voters_of_results(*, snapshot_id: int) -> int:
    """E-mail the authors their result and every opted-in voter that results are published.

    Idempotent: every e-mail has a deterministic key, so a second run records nothing.
    """
    snapshot = ResultSnapshot.objects.select_related("programme__city").get(pk=snapshot_id)
    if snapshot.published_at is None:
        return 0
    sent = 0
    winners = set(snapshot.rows.filter(winner=True).values_list("initiative_id", flat=True))
    in_result = snapshot.rows.values_list("initiative_id", flat=True)
    for initiative in Initiative.objects.filter(pk__in=in_result).select_related(
        "author", "programme__city"
    ):
        _notify_author(
            initiative,
            f"result:s{snapshot.pk}",
            "initiatives/result",
            funded=initiative.pk in winners,
        )
    ballots = Ballot.objects.filter(programme=snapshot.programme, notify=True).select_related(
        "voter"
    )
    for ballot in ballots.iterator(chunk_size=500):
        if notify_user(
            user=ballot.voter,
            key=f"initiatives:results:s{snapshot.pk}",
            template="initiatives/results_published",
            context={"programme": snapshot.programme},
            city=snapshot.programme.city,
        ):
            sent += 1
    ResultSnapshot.objects.filter(pk=snapshot.pk, voters_notified_at__isnull=True).update(
        voters_notified_at=timezone.now()
    )
    return sent


# --- implementation --------------------------------------------------------------------------
def implementation_update_post(
    *, initiative: Initiative, actor, status: str, happened_on: date, text: str
) -> ImplementationUpdate:
    """Post a dated implementation update on a funded project (atomic, audited).

    City staff of the programme's city. "Done" queues e-mails to opted-in voters of it.
    """
    from opencity.cities.access import can_act_on_city

    if not can_act_on_city(
        actor, initiative.programme.city_id, [StaffRole.Role.MODERATOR, StaffRole.Role.CITY_ADMIN]
    ):
        raise Refused(_("You may not report on this city's projects."), code="forbidden")
    if initiative.status != Status.FUNDED:
        raise Refused(_("Only funded projects have implementation updates."), code="status")
    if status not in ImplementationUpdate.Status.values:
        raise Refused(_("Choose the stage of works."), code="status")
    with transaction.atomic():
        update = ImplementationUpdate.objects.create(
            initiative=initiative,
            status=status,
            happened_on=happened_on,
            text=text,
            created_by=actor,
        )
        audit(
            obj=initiative,
            action="implementation_update",
            actor=actor,
            city=initiative.programme.city,
            to_state=status,
            reason=text[:500],
            data={"update": update.pk, "date": happened_on.isoformat()},
        )
        if status == ImplementationUpdate.Status.DONE:
            from initiatives.tasks import notify_voters_of_completion

            enqueue_on_commit(notify_voters_of_completion, update.pk)
    return update


def notify_voters_of_completion(*, update_id: int) -> int:
    """E-mail opted-in voters of the project that it is done (idempotent: keyed e-mails)."""
    update = ImplementationUpdate.objects.select_related("initiative__programme__city").get(
        pk=update_id
    )
    initiative = update.initiative
    sent = 0
    voters = Ballot.objects.filter(
        programme_id=initiative.programme_id, notify=True, votes__initiative=initiative
    ).select_related("voter")
    for ballot in voters.iterator(chunk_size=500):
        if notify_user(
            user=ballot.voter,
            key=f"initiatives:done:i{initiative.pk}",
            template="initiatives/implementation_done",
            context={"initiative": initiative, "programme": initiative.programme, "update": update},
            city=initiative.programme.city,
        ):
            sent += 1
    ImplementationUpdate.objects.filter(pk=update.pk, voters_notified_at__isnull=True).update(
        voters_notified_at=timezone.now()
    )
    return sent


def pending_voter_notifications(now=None) -> tuple[list[int], list[int]]:
    """Published snapshots and "done" updates whose voter e-mails a broker outage missed."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=2)
    snapshots = ResultSnapshot.objects.filter(
        published_at__lt=cutoff, voters_notified_at__isnull=True
    ).values_list("pk", flat=True)
    updates = ImplementationUpdate.objects.filter(
        status=ImplementationUpdate.Status.DONE,
        created_at__lt=cutoff,
        voters_notified_at__isnull=True,
    ).values_list("pk", flat=True)
    return list(snapshots[:100]), list(updates[:100])
