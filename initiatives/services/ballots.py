"""Review, confirm, receipt: a voter picks projects, reviews them against the budget and
confirms; the whole ballot is stored at once and a receipt (ballot id, time, projects, a
short code) is shown and e-mailed through the outbox. When the programme's frozen rules say
votes may change until voting closes, a new confirmed ballot replaces the old one in the
same transaction: never two ballots, never more votes than the limit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from initiatives.models import Ballot, FrozenRules, Initiative, Programme, Stage, Vote
from initiatives.services import vote_statements as statements
from initiatives.services.eligibility import verified_facts, verified_refusal
from initiatives.services.rules import programme_freeze_rules
from initiatives.services.voting import vote_check_voter
from opencity.accounts.models import User
from opencity.accounts.selectors import has_verified_email
from opencity.core import Refused
from opencity.core.services import notify_user
from opencity.core.sql import prepared_cursor
from opencity.identity import services as identity

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed back


def receipt_code() -> str:
    """A short code the voter can quote: 8 characters from 32 (40 bits), as XXXX-XXXX."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _n in range(8))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass
class Receipt:
    ballot_id: int
    confirmed_at: datetime
    code: str
    titles: list[str]
    replaced: bool = False
    #: the projects on the ballot, in its order (for the public ledger's per-vote receipts)
    initiative_ids: list[int] = field(default_factory=list)


def _rules_for_voting(programme: Programme, today: date) -> FrozenRules:
    """The frozen rules; the first confirmed ballot freezes them if the stage job has not.
    Read with the programme when the caller selected them (`select_related("frozen_rules")`:
    one query fewer on the voting path)."""
    if Programme.frozen_rules.is_cached(programme):
        try:
            rules = programme.frozen_rules
        except FrozenRules.DoesNotExist:
            rules = None
    else:
        rules = FrozenRules.objects.filter(programme_id=programme.pk).first()
    if rules is None:
        if programme.stage_on(today) != Stage.VOTING:
            raise Refused(_("Voting in this programme is not open."), code="stage")
        rules = programme_freeze_rules(programme_id=programme.pk)
    return rules


def ballot_check_voter(*, voter: User, programme: Programme, today: date | None = None) -> None:
    """Raise Refused if `voter` may not vote in `programme` at all, under its frozen rules
    when they exist: with verified eligibility, age and residency come from the identity
    provider or a clerk's check (initiatives.services.eligibility), never the profile."""
    today = today or timezone.localdate()
    rules = FrozenRules.objects.filter(programme_id=programme.pk).first()
    verified = rules.verified_eligibility if rules else programme.verified_eligibility
    if not verified:
        vote_check_voter(voter=voter, programme=programme, today=today)
        return
    if programme.stage_on(today) != Stage.VOTING:
        raise Refused(_("Voting in this programme is not open."), code="stage")
    if not voter.is_authenticated or not voter.is_active:
        raise Refused(_("Sign in to vote."), code="anonymous")
    if not has_verified_email(voter):
        raise Refused(_("Confirm your e-mail address before voting."), code="unverified")
    source = rules or programme
    refusal = verified_refusal(voter, programme, source.min_voter_age, source.residents_only, today)
    if refusal is not None:
        raise refusal


def ballot_review(
    *, voter: User, programme: Programme, initiative_ids: Iterable[int]
) -> list[Initiative]:
    """The picks for the review page, in ballot order; Refused when a rule rejects them."""
    ids = sorted(set(initiative_ids))
    today = timezone.localdate()
    rules = _rules_for_voting(programme, today)
    ballot_check_voter(voter=voter, programme=programme, today=today)
    picks = list(
        Initiative.objects.filter(programme=programme, pk__in=ids)
        .select_related("category")
        .order_by("category__position", "category__name", "pk")
    )
    refusal = _pick_refusal(voter, rules, ids, picks)
    if refusal is not None:
        raise refusal
    return picks


def _pick_refusal(
    voter: User, rules: FrozenRules, ids: list[int], picks: list[Initiative]
) -> Refused | None:
    if not ids:
        return Refused(_("Choose at least one project."), code="empty")
    if len(picks) != len(ids) or any(p.status not in Initiative.ON_BALLOT for p in picks):
        return Refused(_("This project is not on the ballot."), code="not_on_ballot")
    if any(p.author_id == voter.pk for p in picks):
        return Refused(_("You cannot vote for your own project."), code="own")
    if len(ids) > rules.max_votes:
        return Refused(
            _("You chose %(n)s projects; each voter backs at most %(max)s.")
            % {"n": len(ids), "max": rules.max_votes},
            code="limit",
        )
    if rules.one_per_category and len({p.category_id for p in picks}) != len(picks):
        return Refused(_("Choose at most one project per category."), code="category")
    return None


def ballot_confirm(
    *, voter: User, programme: Programme, initiative_ids: Iterable[int], notify: bool = False
) -> Receipt:
    """Store the voter's whole ballot atomically and e-mail the receipt (outbox, same
    transaction). Any signed-in voter the frozen rules allow.

    A ballot already confirmed is final (Refused "voted"), unless the programme's votes may
    change until close: then it is replaced in the same transaction, its row locked first,
    so two confirmations at once end as one ballot, the later one. On PostgreSQL the ballot
    and its votes are one statement (statements.CONFIRM_BALLOT_SQL).
    """
    ids = sorted(set(initiative_ids))
    today = timezone.localdate()
    rules = _rules_for_voting(programme, today)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _confirm_once(voter, programme, rules, ids, notify, today)
        except _LostRace:
            continue  # a first ballot of the same voter committed meanwhile: read it again
        except IntegrityError as exc:
            # A new ballot's trigger claims the voter's identity key: counted on paper.
            if not identity.is_counted_twice(exc):
                raise
            raise identity.already_counted(
                scope="programme", subject_id=programme.pk, user_id=voter.pk
            ) from None
    raise Refused(_("Your vote could not be recorded. Please try again."), code="retry")


class _LostRace(Exception):
    pass


def _confirm_once(
    voter: User, programme: Programme, rules: FrozenRules, ids: list[int], notify: bool, today: date
) -> Receipt:
    replaced = False
    if rules.votes_changeable:
        # Hold the voter's ballot (if any) until commit, then drop its votes: a concurrent
        # confirmation waits here and then replaces this one whole.
        old = Ballot.objects.select_for_update().filter(voter=voter, programme=programme).first()
        if old is not None:
            Vote.objects.filter(ballot=old).delete()
            replaced = True
    now = timezone.now()
    code = receipt_code()
    birth, home_city = voter.date_of_birth, voter.home_city_id
    if rules.verified_eligibility:  # the statement checks the verified facts instead
        birth, home_city = verified_facts(voter, programme)
    if connection.vendor == "postgresql":
        s1, s2, s3 = Initiative.ON_BALLOT
        params = {
            "programme": programme.pk,
            "ids": ids,
            "voter": voter.pk,
            "s1": s1,
            "s2": s2,
            "s3": s3,
            "today": today,
            "home_city": home_city,
            "birth": birth,
            "notify": bool(notify),
            "now": now,
            "code": code,
            "replace": bool(rules.votes_changeable),
        }
        with prepared_cursor() as cursor:
            cursor.execute(statements.CONFIRM_BALLOT_SQL, params)
            _has_rules, ok, ballot_id, inserted, titles = cursor.fetchone()
    else:
        ok, ballot_id, inserted, titles = _confirm_orm(
            voter, programme, rules, ids, notify, now, code, today
        )
    if not ok:
        _raise_why(voter, programme, rules, ids, today)
    if ballot_id is None:
        if rules.votes_changeable:
            raise _LostRace
        raise Refused(
            _("You have already voted in this programme; your vote is final."), code="voted"
        )
    if inserted != len(ids):
        raise _LostRace
    receipt = Receipt(ballot_id, now, code, list(titles), replaced)
    notify_user(
        user=voter,
        key=f"initiatives:receipt:b{ballot_id}:{code}",
        template="initiatives/ballot_receipt",
        context={"programme": programme, "receipt": receipt},
        city=programme.city,
    )
    return receipt


def _raise_why(
    voter: User, programme: Programme, rules: FrozenRules, ids: list[int], today: date
) -> None:
    """Word the refusal of a ballot the statement did not store, from fresh reads."""
    ballot_check_voter(voter=voter, programme=programme, today=today)
    picks = list(Initiative.objects.filter(programme=programme, pk__in=ids))
    raise _pick_refusal(voter, rules, ids, picks) or Refused(
        _("Your vote could not be recorded. Please try again."), code="retry"
    )


def _confirm_orm(
    voter: User,
    programme: Programme,
    rules: FrozenRules,
    ids: list[int],
    notify: bool,
    now: datetime,
    code: str,
    today: date,
) -> tuple[bool, int | None, int, list[str]]:
    """Other databases (the demo's SQLite): the same checks, then ORM writes."""
    picks = list(Initiative.objects.filter(programme=programme, pk__in=ids))
    try:
        ballot_check_voter(voter=voter, programme=programme, today=today)
    except Refused:
        return False, None, 0, []
    if _pick_refusal(voter, rules, ids, picks) is not None or not has_verified_email(voter):
        return False, None, 0, []
    ballot = Ballot.objects.filter(voter=voter, programme=programme).first()
    if ballot is not None and not rules.votes_changeable:
        return True, None, 0, []
    try:
        if ballot is None:
            ballot = Ballot.objects.create(voter=voter, programme=programme)
        Ballot.objects.filter(pk=ballot.pk).update(notify=notify, confirmed_at=now, code=code)
        picks.sort(key=lambda p: (p.category_id, p.pk))
        Vote.objects.bulk_create(
            Vote(
                ballot=ballot,
                voter=voter,
                programme=programme,
                initiative=p,
                category_id=p.category_id,
                position=n,
                category_slot_id=p.category_id if rules.one_per_category else None,
                created_at=now,
            )
            for n, p in enumerate(picks, start=1)
        )
    except IntegrityError as exc:
        if identity.is_counted_twice(exc):
            raise
        raise _LostRace from exc
    return True, ballot.pk, len(picks), [p.title for p in picks]


def ballot_receipt(*, voter: User, programme: Programme) -> Receipt | None:
    """The voter's confirmed ballot as a receipt (only their own)."""
    ballot = Ballot.objects.filter(
        voter=voter, programme=programme, confirmed_at__isnull=False
    ).first()
    if ballot is None:
        return None
    rows = list(
        Vote.objects.filter(ballot=ballot)
        .order_by("position")
        .values_list("initiative_id", "initiative__title")
    )
    return Receipt(
        ballot.pk,
        ballot.confirmed_at,
        ballot.code,
        [title for _pk, title in rows],
        initiative_ids=[pk for pk, _title in rows],
    )
