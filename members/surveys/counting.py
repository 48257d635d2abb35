"""The pre-counted results of a wave (models.ResultCount), so the directors' pages sum a few
hundred counted rows instead of counting every answer of 1,469 councils on each request.

`results_count` rebuilds a wave's counts from the answers in one transaction; it runs on
commit after every submission or reopening (coalesced: one count for a burst of them), and
from beat for waves that changed since their last count (a lost task, a Redis outage) and
once a day for every open wave (councils whose population or oblast was corrected). The
page shows when the counts were made (`Wave.counted_at`)."""

# ruff: noqa: S608 - the SQL is built from table names and conf constants only; values bound.
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from members.surveys import conf
from members.surveys.models import (
    Answer,
    Invitation,
    MatrixAnswer,
    Question,
    Response,
    ResultCount,
    Wave,
)
from opencity.cities.models import City
from opencity.queue import send_now, task_named

logger = logging.getLogger(__name__)

TASK = "members.tasks.count_survey_results"
# A burst of submissions is counted once, this many seconds after the first of them.
COALESCE_SECONDS = 5
# Beat margin: a submission committed while a count was running is counted again.
MARGIN = timedelta(minutes=2)


def _strata(city: str) -> tuple[str, list]:
    """SQL for a council's group (oblast, tier, size band) from its row, with params; the
    same bands as services.tier_q and results.Filters (a council without a population is a
    village hromada in no size band)."""
    population = f"coalesce({city}.population, 0)"
    tier_sql, params = "CASE", []
    for code, lower in conf.TIERS[:-1]:
        tier_sql += f" WHEN {population} >= %s THEN %s"
        params += [lower, code]
    tier_sql += " ELSE %s END"
    params.append(conf.TIERS[-1][0])
    size_sql = "CASE"
    for code, lower, upper in conf.SIZES:
        size_sql += f" WHEN {city}.population >= %s"
        params.append(lower)
        if upper is not None:
            size_sql += f" AND {city}.population < %s"
            params.append(upper)
        size_sql += " THEN %s"
        params.append(code)
    size_sql += " ELSE '' END"
    return f"{city}.oblast_uk, {tier_sql}, {size_sql}", params


def _statements(wave_id: int) -> list[tuple[str, list]]:
    strata, strata_params = _strata("c")
    t = {
        "count": ResultCount._meta.db_table,
        "answer": Answer._meta.db_table,
        "matrix": MatrixAnswer._meta.db_table,
        "response": Response._meta.db_table,
        "invitation": Invitation._meta.db_table,
        "question": Question._meta.db_table,
        "city": City._meta.db_table,
    }
    insert = (
        f"INSERT INTO {t['count']} (wave_id, question_id, product_id, value, oblast, tier, size,"
        " n, total, low, high) "
    )
    answers = (
        f" FROM {t['answer']} a JOIN {t['response']} r ON r.id = a.response_id"
        f" JOIN {t['city']} c ON c.id = r.city_id JOIN {t['question']} q ON q.id = a.question_id"
    )
    submitted = " WHERE r.wave_id = %s AND r.status = 'submitted'"
    if connection.vendor == "postgresql":
        unnest = " CROSS JOIN LATERAL jsonb_array_elements_text(a.choices) AS e(value)"
    else:  # the embedded SQLite of a developer's machine
        unnest = " CROSS JOIN json_each(a.choices) AS e"
    head = [wave_id, *strata_params]
    tail = [wave_id]
    return [
        (  # invited councils per group
            f"{insert} SELECT %s, NULL, NULL, 'invited', {strata}, count(*), NULL, NULL, NULL"
            f" FROM {t['invitation']} i JOIN {t['city']} c ON c.id = i.city_id"
            " WHERE i.wave_id = %s GROUP BY 5, 6, 7",
            head + tail,
        ),
        (  # councils that submitted
            f"{insert} SELECT %s, NULL, NULL, 'answered', {strata}, count(*), NULL, NULL, NULL"
            f" FROM {t['response']} r JOIN {t['city']} c ON c.id = r.city_id"
            " WHERE r.wave_id = %s AND r.status = 'submitted' GROUP BY 5, 6, 7",
            head + tail,
        ),
        (  # single, yes/no, scale: per choice; short and long text: answers given ('')
            f"{insert} SELECT %s, a.question_id, NULL, a.choice, {strata}, count(*), NULL, NULL,"
            f" NULL {answers}{submitted} AND q.kind NOT IN ('multiple', 'number', 'matrix')"
            " GROUP BY 2, 4, 5, 6, 7",
            head + tail,
        ),
        (  # multiple choice: per ticked choice
            f"{insert} SELECT %s, a.question_id, NULL, e.value, {strata}, count(*), NULL, NULL,"
            f" NULL {answers}{unnest}{submitted}"
            " AND q.kind = 'multiple' GROUP BY 2, 4, 5, 6, 7",
            head + tail,
        ),
        (  # numbers: how many, sum, lowest, highest
            f"{insert} SELECT %s, a.question_id, NULL, '', {strata}, count(*), sum(a.number),"
            f" min(a.number), max(a.number) {answers}{submitted}"
            " AND q.kind = 'number' AND a.number IS NOT NULL GROUP BY 2, 5, 6, 7",
            head + tail,
        ),
        (  # the e-services matrix: per e-product and status
            f"{insert} SELECT %s, m.question_id, m.product_id, m.status, {strata}, count(*),"
            f" NULL, NULL, NULL FROM {t['matrix']} m"
            f" JOIN {t['response']} r ON r.id = m.response_id"
            f" JOIN {t['city']} c ON c.id = r.city_id"
            " WHERE r.wave_id = %s AND r.status = 'submitted' GROUP BY 2, 3, 4, 5, 6, 7",
            head + tail,
        ),
    ]


def results_count(*, wave_id: int) -> datetime | None:
    """Rebuild the wave's counts from its submitted answers; return the time they stand for.

    Idempotent and exact: the old rows are replaced in one transaction, so a page reads either
    the previous counts or the new ones, and a second run gives the same rows. Two runs for
    one wave take turns (the wave row is locked); each statement sees every response
    committed before it started, and `counted_at` is the start of the run, so the beat pass
    recounts a wave that got a submission after it."""
    with transaction.atomic():
        wave = Wave.objects.select_for_update(of=("self",)).filter(pk=wave_id).first()
        if wave is None:
            return None
        started = timezone.now()
        ResultCount.objects.filter(wave_id=wave_id).delete()
        with connection.cursor() as cursor:
            for sql, params in _statements(wave_id):
                cursor.execute(sql, params)
        Wave.objects.filter(pk=wave_id).update(counted_at=started)
    return started


def request_count_on_commit(wave_id: int) -> None:
    """Queue a recount of the wave once the current transaction commits."""
    transaction.on_commit(lambda: request_count(wave_id))


def request_count(wave_id: int) -> None:
    """Queue a recount unless one is pending. The pending key lives exactly as long as the
    task's countdown, so a submission that finds it committed before that count runs. If
    Redis or the broker is down nothing fails: the beat pass (`count_stale`) recounts."""
    task = task_named(TASK)
    if task.app.conf.task_always_eager:  # in-process (tests, demo): count right away
        send_now(task, wave_id)
        return
    try:
        first = cache.add(f"surveys:count-pending:{wave_id}", 1, timeout=COALESCE_SECONDS)
    except Exception as exc:  # a cache outage must not fail a council's submission
        logger.warning("survey count coalescing unavailable (%s)", type(exc).__name__)
        first = True
    if first:
        send_now(task, wave_id, countdown=COALESCE_SECONDS)


def count_stale(*, now: datetime | None = None) -> int:
    """Beat pass: recount waves never counted, waves whose responses or invitations changed
    since their last count, and, once a day, every wave still open (council data edits).
    Returns how many waves were counted."""
    now = now or timezone.now()
    changed = Response.objects.filter(
        wave=OuterRef("pk"), updated_at__gte=OuterRef("counted_at") - MARGIN
    )
    invited = Invitation.objects.filter(
        wave=OuterRef("pk"), sent_at__gte=OuterRef("counted_at") - MARGIN
    )
    stale = (
        Q(counted_at__isnull=True)
        | Exists(changed)
        | Exists(invited)
        | Q(
            closes_on__gte=(now - timedelta(days=30)).date(), counted_at__lt=now - timedelta(days=1)
        )
    )
    ids = list(Wave.objects.filter(stale).values_list("pk", flat=True))
    for wave_id in ids:
        results_count(wave_id=wave_id)
    return len(ids)


def ensure_counted(wave: Wave) -> Wave:
    """A wave never counted (just created, or loaded in bulk) is counted now, once."""
    if wave.counted_at is None:
        wave.counted_at = results_count(wave_id=wave.pk)
    return wave
