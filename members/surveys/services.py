"""Survey writes: versions, waves and their links, reminders, saving and submitting answers,
the secretariat's late change and acceptance into the e-services catalogue.

Each service is atomic and raises `Refused` with nothing changed when a rule says no."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import CityContact, CityEService
from members.selectors import member_cities
from members.surveys import conf, counting
from members.surveys.models import (
    Answer,
    Choice,
    Invitation,
    MatrixAnswer,
    Question,
    QuestionnaireVersion,
    Response,
    Wave,
)
from opencity.cities.models import City
from opencity.core import Refused
from opencity.core.services import audit, queue_email

TOKEN_SALT = "members.surveys.invitation"  # noqa: S105 - a signing salt, not a secret


# --- versions ----------------------------------------------------------------------------------
@transaction.atomic
def version_copy(*, version: QuestionnaireVersion, actor=None) -> QuestionnaireVersion:
    """A new, unlocked version with the same sections, questions, choices and conditions: the
    way to change a questionnaire once answers have arrived (the old one stays as it was)."""
    last = (
        QuestionnaireVersion.objects.select_for_update()
        .filter(questionnaire=version.questionnaire_id)
        .order_by("-number")
        .first()
    )
    new = QuestionnaireVersion.objects.create(
        questionnaire_id=version.questionnaire_id,
        number=last.number + 1,
        intro_uk=version.intro_uk,
        intro_en=version.intro_en,
    )
    question_map: dict[int, Question] = {}
    conditions: list[tuple[Question, int]] = []
    for section in version.sections.order_by("order", "id"):
        old_section_pk = section.pk
        section.pk = None
        section.version = new
        section.save()
        for question in Question.objects.filter(section_id=old_section_pk).order_by("order", "id"):
            old_pk = question.pk
            choices = list(Choice.objects.filter(question_id=old_pk))
            controller = question.show_if_question_id
            question.pk = None
            question.section = section
            question.show_if_question = None
            value = question.show_if_value
            question.show_if_value = ""
            question.save()
            question.show_if_value = value
            question_map[old_pk] = question
            if controller:
                conditions.append((question, controller))
            for choice in choices:
                choice.pk = None
                choice.question = question
            Choice.objects.bulk_create(choices)
    for question, controller in conditions:
        question.show_if_question = question_map[controller]
        question.save(update_fields=["show_if_question", "show_if_value"])
    audit(
        obj=new,
        action="members.questionnaire_version.created",
        actor=actor,
        data={"copied_from": version.number},
    )
    return new


def version_is_locked(version: QuestionnaireVersion) -> bool:
    return version.locked_at is not None or Response.objects.filter(version=version).exists()


# --- waves and links ---------------------------------------------------------------------------
def tier_of(population: int | None) -> str:
    for tier, lower in conf.TIERS:
        if (population or 0) >= lower:
            return tier
    return conf.TIERS[-1][0]


def tier_q(tier: str, prefix: str = "") -> Q:
    """Cities of a tier, as a filter (population bands from conf.TIERS)."""
    bounds = dict(conf.TIERS)
    lower = bounds[tier]
    uppers = [b for _t, b in conf.TIERS if b > lower]
    q = Q(**{f"{prefix}population__gte": lower}) if lower else Q()
    if uppers:
        upper = min(uppers)
        below = Q(**{f"{prefix}population__lt": upper})
        if not lower:
            below |= Q(**{f"{prefix}population__isnull": True})
        q &= below
    return q


def wave_audience(wave: Wave) -> QuerySet[City]:
    cities = member_cities() if wave.audience == Wave.Audience.MEMBERS else City.objects.all()
    if wave.audience == Wave.Audience.OBLAST:
        cities = cities.filter(oblast_uk=wave.audience_value)
    elif wave.audience == Wave.Audience.TIER:
        cities = cities.filter(tier_q(wave.audience_value))
    return cities


def make_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=TOKEN_SALT)


def invitation_link(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("members:survey_fill", args=[make_token(invitation)])


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link stands for. Refused: forged (bad signature), expired (older than
    conf.LINK_MAX_AGE_DAYS or the wave has closed), replaced (a newer link was sent)."""
    try:
        payload = signing.loads(
            token, salt=TOKEN_SALT, max_age=timedelta(days=conf.LINK_MAX_AGE_DAYS)
        )
    except signing.SignatureExpired:
        raise Refused(
            _("This survey link has expired. Ask the association's secretariat for a new one."),
            code="survey_link_expired",
        ) from None
    except signing.BadSignature:
        raise Refused(
            _("This survey link is not valid. Please use the link from the e-mail exactly."),
            code="survey_link_forged",
        ) from None
    invitation = (
        Invitation.objects.select_related("wave__version__questionnaire", "city")
        .filter(pk=payload.get("i"))
        .first()
    )
    if invitation is None or not secrets.compare_digest(invitation.nonce, payload.get("n", "")):
        raise Refused(
            _("This survey link has been replaced by a newer one. Please use the latest e-mail."),
            code="survey_link_replaced",
        )
    if timezone.localdate() > invitation.wave.closes_on:
        raise Refused(
            _(
                "This survey closed on %(date)s. "
                "Write to the secretariat if you still need to answer."
            )
            % {"date": invitation.wave.closes_on.isoformat()},
            code="survey_link_expired",
        )
    return invitation


def _send_invitation(invitation: Invitation, kind: str) -> None:
    wave = invitation.wave
    queue_email(
        key=f"survey-{kind}-{invitation.pk}-{invitation.nonce}",
        to=invitation.email,
        template="survey_invitation",
        context={
            "kind": kind,
            "city": invitation.city.full_name,
            "questionnaire": wave.version.questionnaire.title_uk,
            "wave": wave.name,
            "closes_on": wave.closes_on,
            "link": invitation_link(invitation),
        },
        city=invitation.city,
    )


@dataclass
class WaveSent:
    invited: int = 0
    without_email: list[str] = field(default_factory=list)


@transaction.atomic
def wave_send(*, wave: Wave, actor=None) -> WaveSent:
    """Invite every council of the wave's audience that has no invitation yet, each with its
    own signed link through the outbox. Idempotent: a second run invites only councils added
    since (new members); councils without a contact e-mail are listed, not invited."""
    wave = Wave.objects.select_for_update().select_related("version__questionnaire").get(pk=wave.pk)
    now = timezone.now()
    invited = set(wave.invitations.values_list("city_id", flat=True))
    emails = dict(CityContact.objects.exclude(email="").values_list("city_id", "email"))
    result = WaveSent()
    for city in wave_audience(wave).order_by("name_uk"):
        if city.pk in invited:
            continue
        if city.pk not in emails:
            result.without_email.append(city.name_uk)
            continue
        invitation = Invitation.objects.create(
            wave=wave, city=city, email=emails[city.pk], nonce=secrets.token_hex(8), sent_at=now
        )
        invitation.wave = wave
        _send_invitation(invitation, "invitation")
        result.invited += 1
    if wave.sent_at is None:
        wave.sent_at = now
        wave.save(update_fields=["sent_at"])
    audit(
        obj=wave,
        action="members.survey_wave.sent",
        actor=actor,
        data={"invited": result.invited, "without_email": len(result.without_email)},
    )
    return result


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor=None) -> None:
    """A new link (the old one is refused from now on), e.g. when a council lost the e-mail."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    invitation.nonce = secrets.token_hex(8)
    invitation.save(update_fields=["nonce"])
    _send_invitation(invitation, "invitation")
    audit(
        obj=invitation,
        action="members.survey_invitation.resent",
        actor=actor,
        city=invitation.city_id,
    )


def reminders_send(*, now=None) -> int:
    """Remind councils that have not submitted, 7 and 14 days after the invitation, once each.
    Idempotent: each reminder is claimed with a conditional UPDATE (one row changed) and its
    e-mail has a key of its own in the outbox. Closed waves are not reminded."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for days, column in ((14, "reminded_14_at"), (7, "reminded_7_at")):
        due = (
            Invitation.objects.filter(
                **{f"{column}__isnull": True},
                sent_at__lte=now - timedelta(days=days),
                wave__closes_on__gte=today,
            )
            .exclude(
                Exists(
                    Response.objects.filter(
                        wave=OuterRef("wave"),
                        city=OuterRef("city"),
                        status=Response.Status.SUBMITTED,
                    )
                )
            )
            .values_list("pk", flat=True)
        )
        for pk in list(due):
            with transaction.atomic():
                claimed = Invitation.objects.filter(pk=pk, **{f"{column}__isnull": True}).update(
                    **{column: now}
                )
                if claimed != 1:
                    continue
                if days == 14:  # a council first reminded late gets one e-mail, not two
                    Invitation.objects.filter(pk=pk, reminded_7_at__isnull=True).update(
                        reminded_7_at=now
                    )
                invitation = Invitation.objects.select_related(
                    "wave__version__questionnaire", "city"
                ).get(pk=pk)
                _send_invitation(invitation, f"reminder{days}")
                sent += 1
    return sent


# --- answering ---------------------------------------------------------------------------------
@dataclass
class AnswerValue:
    choice: str = ""
    choices: list[str] = field(default_factory=list)
    number: int | None = None
    text: str = ""
    other_text: str = ""
    matrix: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # product → row


def _already_submitted() -> Refused:
    return Refused(
        _(
            "Your council's answers to this survey have already been submitted. To change them, "
            "write to the association's secretariat."
        ),
        code="survey_already_submitted",
    )


def response_save(
    *,
    invitation: Invitation,
    answers: dict[int, AnswerValue],
    submit: bool,
    respondent: str = "",
) -> Response:
    """Save a council's draft (submit=False) or submit it. Atomic; the council's one response
    row is locked, so two people saving or submitting at once are served one after the other
    and a second submission is refused. Answers keep the version they were given on.
    The caller has validated the answers against that version (forms.SurveyForm)."""
    wave = invitation.wave
    with transaction.atomic():
        response = (
            Response.objects.select_for_update()
            .filter(wave=wave, city_id=invitation.city_id)
            .first()
        )
        if response is None:
            try:
                with transaction.atomic():
                    response = Response.objects.create(
                        wave=wave, city_id=invitation.city_id, version_id=wave.version_id
                    )
            except IntegrityError:  # created by a concurrent request: wait for it
                response = Response.objects.select_for_update().get(
                    wave=wave, city_id=invitation.city_id
                )
        if response.status == Response.Status.SUBMITTED:
            raise _already_submitted()
        _store_answers(response, answers)
        if respondent:
            response.respondent = respondent[:150]
        if submit:
            response.status = Response.Status.SUBMITTED
            response.submitted_at = timezone.now()
        response.save()
        if submit:
            counting.request_count_on_commit(wave.pk)
            audit(
                obj=response,
                action="members.survey_response.submitted",
                city=invitation.city_id,
                from_state="draft",
                to_state="submitted",
            )
    return response


def _store_answers(response: Response, answers: dict[int, AnswerValue]) -> None:
    Answer.objects.filter(response=response).delete()
    rows = []
    matrix_wanted: dict[tuple[int, int], tuple[str, int | None]] = {}
    for question_id, value in answers.items():
        if value.matrix:
            for product_id, row in value.matrix.items():
                matrix_wanted[(question_id, product_id)] = row
            continue
        rows.append(
            Answer(
                response=response,
                question_id=question_id,
                choice=value.choice,
                choices=value.choices,
                number=value.number,
                text=value.text,
                other_text=value.other_text,
            )
        )
    Answer.objects.bulk_create(rows)
    # Matrix rows are kept in place, so a catalogue acceptance stays linked to its source.
    existing = {(m.question_id, m.product_id): m for m in response.matrix.all()}
    for key, row in existing.items():
        if key not in matrix_wanted:
            row.delete()
    for (question_id, product_id), (status, since) in matrix_wanted.items():
        row = existing.get((question_id, product_id))
        if row is None:
            MatrixAnswer.objects.create(
                response=response,
                question_id=question_id,
                product_id=product_id,
                status=status,
                since_year=since,
            )
        elif (row.status, row.since_year) != (status, since):
            row.status, row.since_year = status, since
            row.save(update_fields=["status", "since_year"])


@transaction.atomic
def response_reopen(*, response: Response, actor, reason: str) -> Response:
    """The secretariat's late change: a submitted response goes back to draft so the council
    can correct it with its link and submit again. Audited with the reason."""
    response = Response.objects.select_for_update().get(pk=response.pk)
    if response.status != Response.Status.SUBMITTED:
        raise Refused(_("Only a submitted response can be reopened."), code="survey_not_submitted")
    if not reason.strip():
        raise Refused(
            _("Say why the response is reopened."), code="reason_required", field="reason"
        )
    response.status = Response.Status.DRAFT
    response.save(update_fields=["status", "updated_at"])
    counting.request_count_on_commit(response.wave_id)
    audit(
        obj=response,
        action="members.survey_response.reopened",
        actor=actor,
        city=response.city_id,
        from_state="submitted",
        to_state="draft",
        reason=reason,
    )
    return response


# --- into the catalogue ------------------------------------------------------------------------
@transaction.atomic
def matrix_accept(*, response: Response, actor) -> int:
    """Record in the e-services catalogue every e-product a council said it runs (with a year)
    in its submitted response, with the survey as the source. Idempotent: rows accepted
    before are skipped; an existing catalogue entry is linked, not overwritten."""
    response = (
        Response.objects.select_for_update().select_related("wave", "city").get(pk=response.pk)
    )
    if response.status != Response.Status.SUBMITTED:
        raise Refused(
            _("Only submitted answers can be accepted into the catalogue."),
            code="survey_not_submitted",
        )
    source = f"{response.wave} (#{response.pk})"[:300]
    accepted = 0
    rows = response.matrix.filter(
        status=MatrixAnswer.Status.RUNS, since_year__isnull=False, catalogue_entry__isnull=True
    )
    for row in rows.select_for_update():
        entry, _created = CityEService.objects.get_or_create(
            city_id=response.city_id,
            product_id=row.product_id,
            defaults={"since": date(row.since_year, 1, 1), "source": source},
        )
        row.catalogue_entry = entry
        row.accepted_by = actor
        row.accepted_at = timezone.now()
        row.save(update_fields=["catalogue_entry", "accepted_by", "accepted_at"])
        accepted += 1
    audit(
        obj=response,
        action="members.survey_response.accepted_into_catalogue",
        actor=actor,
        city=response.city_id,
        data={"rows": accepted},
    )
    return accepted
