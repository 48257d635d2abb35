"""The pre-counted survey results (members/surveys/counting.py): queued on commit by each
submission, rebuilt by an idempotent task and by beat, and always equal to a direct count of
the answers, for every filter the results page offers."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count, Max, Min, Sum
from django.urls import reverse
from django.utils import timezone

from members.surveys import counting, results, services
from members.surveys.forms import SurveyForm
from members.surveys.models import (
    Answer,
    Invitation,
    MatrixAnswer,
    Question,
    Response,
    ResultCount,
    Wave,
)
from members.tasks import count_stale_survey_results, count_survey_results
from tests.factories import make_city
from tests.members.survey_factories import form_data, make_member, make_questionnaire, make_wave

pytestmark = pytest.mark.django_db

# (oblast, population): every tier and size band, and a council without a population
COUNCILS = [
    ("Львівська", 700_000),
    ("Львівська", 3_000),
    ("Львівська", 12_000),
    ("Волинська", 200_000),
    ("Волинська", 7_000),
    ("Волинська", None),
    ("Київська", 60_000),
    ("Київська", 4_999),
    ("Київська", 5_000),
    ("Київська", 20_000),
]
FILTERS = [
    results.Filters(),
    results.Filters(oblast="Львівська"),
    results.Filters(oblast="Волинська"),
    results.Filters(tier="city"),
    results.Filters(tier="settlement"),
    results.Filters(tier="village"),
    results.Filters(size="lt5k"),
    results.Filters(size="5-10k"),
    results.Filters(size="100k+"),
    results.Filters(oblast="Київська", tier="settlement", size="5-10k"),
]


def random_answers(rng: random.Random) -> dict:
    answers = {
        "has_edms": rng.choice(["yes", "no"]),
        "staff": str(rng.randint(0, 500)),
        "services": {
            slug: rng.choice([("runs", rng.randint(2010, 2024)), ("plans", None), ("no", None)])
            for slug in ("e-petitions", "e-budget")
        },
    }
    if answers["has_edms"] == "yes":
        answers["edms_name"] = rng.choice(["Мегаполіс", "АСКОД", "Документ"])
    if rng.random() < 0.8:
        answers["readiness"] = str(rng.randint(1, 5))
    if rng.random() < 0.7:
        answers["level"] = rng.choice(["mayor", "secretary"])
    picked = rng.sample(["cost", "staff", "other"], rng.randint(0, 3))
    if picked:
        answers["obstacles"] = picked
    if "other" in picked:
        answers["obstacles__other"] = rng.choice(["Війна", "Світло"])
    if rng.random() < 0.5:
        answers["comment"] = rng.choice(["Бракує фахівців", "Дякуємо"])
    return answers


def submit(invitation, version, answers):
    form = SurveyForm(form_data(version, **answers), version=version, submitting=True)
    assert form.is_valid(), form.errors
    services.response_save(invitation=invitation, answers=form.answers(), submit=True)


def direct(wave: Wave, filters: results.Filters, questions: list[Question]) -> dict:
    """The figures counted straight from the answers, as the page counted them before."""
    responses = Response.objects.filter(
        filters.q("city__"), wave=wave, status=Response.Status.SUBMITTED
    )
    answers = Answer.objects.filter(response__in=responses)
    kinds = {q.pk: q.kind for q in questions}
    discrete: Counter = Counter()
    texts: Counter = Counter()
    for a in answers:
        if kinds[a.question_id] == Question.Kind.MULTIPLE:
            discrete.update((a.question_id, value) for value in a.choices)
        elif kinds[a.question_id] in Question.TEXT_KINDS:
            texts[a.question_id] += 1
        elif kinds[a.question_id] != Question.Kind.NUMBER:
            discrete[(a.question_id, a.choice)] += 1
    numbers = {
        row["question_id"]: (row["n"], row["total"], row["low"], row["high"])
        for row in answers.filter(number__isnull=False)
        .values("question_id")
        .annotate(n=Count("id"), total=Sum("number"), low=Min("number"), high=Max("number"))
    }
    matrix = Counter(
        {
            (row["question_id"], row["product_id"], row["status"]): row["n"]
            for row in MatrixAnswer.objects.filter(response__in=responses)
            .values("question_id", "product_id", "status")
            .annotate(n=Count("id"))
        }
    )
    invited = Invitation.objects.filter(filters.q("city__"), wave=wave).count()
    return {
        "respondents": responses.count(),
        "invited": invited,
        "discrete": discrete,
        "texts": texts,
        "numbers": numbers,
        "matrix": matrix,
    }


def counted(wave: Wave, filters: results.Filters, questions: list[Question]) -> dict:
    """The same figures as the results page reads them from the pre-counted rows."""
    f = results._figures(wave, questions, filters, text_limit=0)
    numbers = {}
    for qid, row in f.numbers.items():
        numbers[qid] = (row["n"], row["total"], row["low"], row["high"])
    return {
        "respondents": f.respondents,
        "invited": sum(n for measure, _o, _t, n in f.rates if measure == "invited"),
        "discrete": Counter(
            {(qid, value): n for qid, c in f.discrete.items() for value, n in c.items() if n}
        ),
        "texts": Counter({qid: n for qid, n in f.text_totals.items() if n}),
        "numbers": numbers,
        "matrix": Counter(
            {
                (qid, pid, status): n
                for qid, per in f.matrix.items()
                for pid, c in per.items()
                for status, n in c.items()
                if n
            }
        ),
    }


def stored(wave: Wave) -> list[tuple]:
    key = ["question_id", "product_id", "value", "oblast", "tier", "size"]
    return list(
        ResultCount.objects.filter(wave=wave)
        .order_by(*key)
        .values_list(*key, "n", "total", "low", "high")
    )


@pytest.fixture
def wave():
    version = make_questionnaire()
    for n, (oblast, population) in enumerate(COUNCILS):
        make_member(
            make_city(slug=f"rada-{n}", oblast_uk=oblast, population=population, name_uk=f"Р{n}")
        )
    wave = make_wave(version)
    services.wave_send(wave=wave)
    return wave


def test_counts_equal_a_direct_count_after_many_submissions_and_a_rerun(
    wave, django_capture_on_commit_callbacks
):
    rng = random.Random(17)
    version = wave.version
    questions = results._questions(wave)
    invitations = list(Invitation.objects.filter(wave=wave).order_by("city__population"))
    assert wave.counted_at is None
    for invitation in invitations[:-1]:  # the last council does not answer
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            submit(invitation, version, random_answers(rng))
        assert len(callbacks) >= 1  # each submission queued its recount on commit
    wave.refresh_from_db()
    assert wave.counted_at is not None
    assert Response.objects.filter(wave=wave, status="submitted").count() == 9
    for filters in FILTERS:
        expected = direct(wave, filters, questions)
        assert counted(wave, filters, questions) == expected, filters
    assert counted(wave, results.Filters(), questions)["invited"] == 10
    rows = stored(wave)
    assert len(rows) > 50
    count_survey_results(wave.pk)  # the task again: the same rows
    count_survey_results.delay(wave.pk)
    assert stored(wave) == rows
    for filters in FILTERS:
        assert counted(wave, filters, questions) == direct(wave, filters, questions), filters


def test_a_reopened_response_leaves_the_counts_and_returns_on_resubmission(
    wave, director, django_capture_on_commit_callbacks
):
    version = wave.version
    invitation = Invitation.objects.filter(wave=wave).first()
    with django_capture_on_commit_callbacks(execute=True):
        submit(invitation, version, {"has_edms": "no", "staff": "7"})
    questions = results._questions(wave)
    assert counted(wave, results.Filters(), questions)["respondents"] == 1
    response = Response.objects.get(wave=wave)
    with django_capture_on_commit_callbacks(execute=True):
        services.response_reopen(response=response, actor=director, reason="помилка")
    assert counted(wave, results.Filters(), questions)["respondents"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        submit(invitation, version, {"has_edms": "no", "staff": "9"})
    figures = counted(wave, results.Filters(), questions)
    assert figures == direct(wave, results.Filters(), questions)
    staff = next(q for q in questions if q.code == "staff")
    assert figures["numbers"][staff.pk] == (1, 9, 9, 9)


def test_beat_recounts_a_wave_whose_count_was_lost(wave):
    """A submission whose queued count never ran (broker down): the beat pass counts it."""
    invitation = Invitation.objects.filter(wave=wave).first()
    counting.results_count(wave_id=wave.pk)
    Wave.objects.filter(pk=wave.pk).update(counted_at=timezone.now() - timedelta(hours=1))
    submit(invitation, wave.version, {"has_edms": "yes", "edms_name": "АСКОД", "staff": "3"})
    # on_commit never fires inside the test's transaction: the count is stale
    assert not ResultCount.objects.filter(wave=wave, value="answered").exists()
    assert count_stale_survey_results() == 1
    assert ResultCount.objects.get(wave=wave, value="answered").n == 1
    # counted again while a submission may still be committing (a margin), then left alone
    assert count_stale_survey_results() == 1
    earlier = timezone.now() - timedelta(minutes=5)
    Response.objects.filter(wave=wave).update(updated_at=earlier)
    Invitation.objects.filter(wave=wave).update(sent_at=earlier)
    assert count_stale_survey_results() == 0


def test_beat_recounts_an_open_wave_daily_for_corrected_council_data(wave):
    invitation = Invitation.objects.filter(wave=wave, city__oblast_uk="Волинська").first()
    submit(invitation, wave.version, {"has_edms": "no", "staff": "3"})
    counting.results_count(wave_id=wave.pk)
    invitation.city.__class__.objects.filter(pk=invitation.city_id).update(oblast_uk="Рівненська")
    Wave.objects.filter(pk=wave.pk).update(counted_at=timezone.now() - timedelta(days=2))
    Response.objects.filter(wave=wave).update(updated_at=timezone.now() - timedelta(days=3))
    Invitation.objects.filter(wave=wave).update(sent_at=timezone.now() - timedelta(days=3))
    assert counting.count_stale() == 1
    assert ResultCount.objects.get(wave=wave, value="answered").oblast == "Рівненська"


def test_a_wave_never_counted_is_counted_on_first_view(director_client, wave):
    invitation = Invitation.objects.filter(wave=wave).first()
    submit(invitation, wave.version, {"has_edms": "no", "staff": "3"})
    assert Wave.objects.get(pk=wave.pk).counted_at is None
    page = director_client.get(reverse("members:survey_results", args=[wave.pk]))
    wave.refresh_from_db()
    assert wave.counted_at is not None
    html = page.content.decode()
    assert "Підраховано" in html and '<time datetime="' in html


def test_the_results_read_the_counts_not_the_answers(wave):
    """What the page shows is the counted figures, with the time they were counted."""
    invitation = Invitation.objects.filter(wave=wave).first()
    submit(invitation, wave.version, {"has_edms": "yes", "edms_name": "АСКОД", "staff": "3"})
    counting.results_count(wave_id=wave.pk)
    Answer.objects.filter(question__code="has_edms").update(choice="no")  # not recounted yet
    table = results.wave_results(Wave.objects.get(pk=wave.pk), results.Filters(), text_limit=0)
    has_edms = next(b for b in table.blocks if b.question.code == "has_edms")
    assert has_edms.table.rows[0][1] == 1  # "yes" as counted
    counting.results_count(wave_id=wave.pk)
    table = results.wave_results(Wave.objects.get(pk=wave.pk), results.Filters(), text_limit=0)
    has_edms = next(b for b in table.blocks if b.question.code == "has_edms")
    assert has_edms.table.rows[0][1] == 0 and has_edms.table.rows[1][1] == 1


def test_a_burst_of_submissions_queues_one_delayed_count_and_a_cache_outage_still_queues(
    wave, monkeypatch
):
    """With a real broker: the first submission queues a count a few seconds later, the
    others of the burst find it pending; a cache outage never fails a submission."""
    from django.core.cache import cache

    task = counting.task_named(counting.TASK)
    monkeypatch.setitem(task.app.conf, "task_always_eager", False)
    sent: list = []
    monkeypatch.setattr(counting, "send_now", lambda t, *args, **kw: sent.append((args, kw)))
    for _ in range(3):
        counting.request_count(wave.pk)
    assert sent == [((wave.pk,), {"countdown": counting.COALESCE_SECONDS})]
    cache.delete(f"surveys:count-pending:{wave.pk}")  # the countdown passed
    counting.request_count(wave.pk)
    assert len(sent) == 2

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "add", down)
    counting.request_count(wave.pk)
    assert len(sent) == 3
