"""Voting: who may vote, and casting a vote, in this one module from the vote page to the
database. On PostgreSQL a vote is one statement (see `vote_statements`); elsewhere one
transaction holding the voter's ballot row. A refusal is worded from what was read."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import date, datetime

from allauth.account.models import EmailAddress
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import Ballot, Initiative, Programme, Stage, Vote
from initiatives.services import vote_statements as statements
from initiatives.services._common import age_on
from opencity import notifications
from opencity.accounts.models import User
from opencity.accounts.selectors import has_verified_email
from opencity.core import Refused
from opencity.core.sql import prepared_cursor
from opencity.identity import services as identity

logger = logging.getLogger(__name__)

_UNVERIFIED = _("Confirm your e-mail address before voting.")


def vote_check_voter(
    *, voter: User, programme: Programme, today: date | None = None, check_email: bool = True
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


def vote_cast(*, voter: User, initiative: Initiative, notify: bool | None = None) -> Vote:
    """Cast one final vote. Any signed-in voter the programme's rules allow.

    Guarantees, under any concurrency: at most `max_votes` votes per voter and programme,
    one vote per project, at most one per category when the programme says so, only during
    voting, never for one's own project, only with a verified e-mail. The checks run inside
    the inserting statement, and unique constraints back them under races: (ballot, position)
    for the limit, (voter, initiative) and (ballot, category slot). On PostgreSQL a vote is
    one statement that also reads the initiative and its programme's rules (see
    statements.VOTE_STATEMENT_SQL); elsewhere one transaction holding the voter's ballot row.
    Never locks a row shared with other voters; needs no broker.
    """
    if connection.vendor == "postgresql":
        return _vote_in_one_statement(
            voter=voter, programme_slug=None, initiative_pk=initiative.pk, notify=notify
        )
    return _vote_in_transaction(voter=voter, initiative=initiative, notify=notify)


# What casting a vote reads on databases other than PostgreSQL (the demo's SQLite; on
# PostgreSQL the vote statement reads the initiative itself): no long texts, no vote count.
_VOTE_FIELDS = (
    "id", "title", "status", "author_id", "category_id", "programme_id",
    "programme__id", "programme__slug", "programme__city_id", "programme__max_votes",
    "programme__one_per_category", "programme__residents_only", "programme__min_voter_age",
    "programme__submission_opens", "programme__submission_closes",
    "programme__voting_opens", "programme__voting_closes",
    "programme__implementation_starts",
)  # fmt: skip


def _initiative_for_vote(programme_slug: str, pk: int) -> Initiative | None:
    """The initiative for the vote action: no vote count and only the columns the vote
    rules read (the hot path stays cheap)."""
    return (
        Initiative.objects.select_related("programme")
        .only(*_VOTE_FIELDS)
        .filter(pk=pk, programme__slug=programme_slug)
        .first()
    )


def vote_cast_for(
    *, voter: User, programme_slug: str, initiative_pk: int, notify: bool | None = None
) -> Vote:
    """vote_cast() for the vote page: the initiative is named by its programme's slug and its
    id. Raises Initiative.DoesNotExist if there is no such initiative in that programme. The
    vote carries its initiative (title, programme) for the answer."""
    if connection.vendor == "postgresql":
        return _vote_in_one_statement(
            voter=voter, programme_slug=programme_slug, initiative_pk=initiative_pk, notify=notify
        )
    initiative = _initiative_for_vote(programme_slug, initiative_pk)
    if initiative is None:
        raise Initiative.DoesNotExist
    return _vote_in_transaction(voter=voter, initiative=initiative, notify=notify)


def _check_vote_rules(
    voter: User, initiative: Initiative, programme: Programme, today: date
) -> None:
    """The rules that do not depend on the ballot, in the order a voter should hear them."""
    vote_check_voter(voter=voter, programme=programme, today=today, check_email=False)
    if initiative.status not in Initiative.ON_BALLOT:
        raise Refused(_("This project is not on the ballot."), code="not_on_ballot")
    if initiative.author_id == voter.pk:
        raise Refused(_("You cannot vote for your own project."), code="own")


def _vote_in_transaction(*, voter: User, initiative: Initiative, notify: bool | None) -> Vote:
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
        try:
            row, refusal = _cast_in_transaction(params)
        except IntegrityError as exc:
            raise counted_elsewhere(exc, voter, initiative.pk) from None
        if row is not None:
            return _vote(voter, initiative, programme, row, now)
        if refusal is None:  # only a lost race: the retry reads fresh data
            refusal = _why_no_vote(voter, initiative, programme)
        if refusal is not None:
            raise _REFUSALS[refusal]()
    raise _REFUSALS["retry"]()  # pragma: no cover - unreachable, see above


def _vote(
    voter: User, initiative: Initiative, programme: Programme, row: tuple, now: datetime
) -> Vote:
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
    notifications.auto_follow_later(voter, initiative)  # after commit, by a task (issue 16)
    return vote


def _vote_in_one_statement(
    *, voter: User, programme_slug: str | None, initiative_pk: int, notify: bool | None
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
        try:
            # A savepoint only inside a caller's transaction; a request runs in autocommit and
            # a vote stays one statement.
            with (
                transaction.atomic() if connection.in_atomic_block else nullcontext(),
                prepared_cursor() as cursor,
            ):
                cursor.execute(statements.VOTE_STATEMENT_SQL, params)
                row = cursor.fetchone()
        except IntegrityError as exc:
            raise counted_elsewhere(exc, voter, initiative_pk) from None
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


def counted_elsewhere(exc: IntegrityError, voter: User, initiative_pk: int) -> Exception:
    """A new ballot's trigger claims the voter's identity key (opencity.identity): the
    person already voted in this programme on paper. Other integrity errors pass through."""
    if not identity.is_counted_twice(exc):
        return exc
    programme_id = (
        Initiative.objects.filter(pk=initiative_pk).values_list("programme_id", flat=True).first()
    )
    return identity.already_counted(scope="programme", subject_id=programme_id, user_id=voter.pk)


def _vote_target(row: tuple) -> tuple[Initiative, Programme]:
    """The initiative and programme (only the columns the rules read) from the vote row."""
    programme = Programme(
        pk=row[5], **dict(zip(statements.TARGET_PROGRAMME_FIELDS, row[6:17], strict=True))
    )
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
            cursor.execute(statements.CAST_VOTE_SQL, {**params, "ballot": ballot_id})
            row = cursor.fetchone()
        return ((*row, ballot_id), None) if row else (None, None)


def _why_no_vote(voter: User, initiative: Initiative, programme: Programme) -> str | None:
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


def _lock_ballot(*, voter_id: int, programme_id: int, notify: bool) -> int | None:
    """Create the voter's ballot if needed and lock its row until the transaction ends.

    Returns None if the voter has no verified e-mail address. PostgreSQL does it in one
    upsert; elsewhere, insert-if-missing then select_for_update().
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                statements.LOCK_BALLOT_SQL,
                {"voter": voter_id, "programme": programme_id, "notify": notify},
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


def ballot_set_notify(*, voter: User, programme: Programme, notify: bool) -> None:
    """Opt in or out of the results and implementation e-mails (only with a ballot)."""
    Ballot.objects.filter(voter=voter, programme=programme).update(notify=notify)
