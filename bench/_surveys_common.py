"""Council-survey part of bench/reports.py: two waves of one 60-question questionnaire, each
answered by all 1,469 hromadas, and the timing of the results page and the two-wave
comparison against a raw-SQL baseline (the one GROUP BY the results page cannot do
without), measured in the same run."""

from __future__ import annotations

import random
import statistics
import time
from datetime import date, timedelta

QUESTIONS = 60  # 11 in the demo questionnaire + 49 more


def populate_surveys(rng: random.Random, today: date) -> tuple:
    from members.models import EProduct
    from members.surveys import demo
    from members.surveys.models import Question, Wave
    from opencity.cities.models import City

    if EProduct.objects.count() < 12:
        EProduct.objects.bulk_create(
            EProduct(slug=f"bench-product-{n}", name=f"Е-сервіс {n}", category="e_services")
            for n in range(12 - EProduct.objects.count())
        )
    version = demo.build_questionnaire(extra_questions=QUESTIONS - 11)
    assert Question.objects.filter(section__version=version).count() == QUESTIONS
    cities = list(City.objects.order_by("pk"))
    waves = []
    for year, offset in ((today.year - 1, 365), (today.year, 30)):
        opened = today - timedelta(days=offset)
        wave = Wave.objects.create(
            version=version,
            name=str(year),
            audience="members",
            opens_on=opened,
            closes_on=opened + timedelta(days=60),
        )
        demo.answer_wave(wave, cities, rng, answered=len(cities), opened=opened)
        waves.append(wave)
    return tuple(waves)


def staff_client(user):
    """A test client signed in as `user` with a second factor recorded in its session, as
    allauth records it after a TOTP code (staff reach /reports/ only after one)."""
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _time(fn, runs: int) -> list[float]:
    for _ in range(2):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def measure_surveys(director, waves: tuple, runs: int) -> None:
    from django.db import connection

    from members.surveys.counting import results_count
    from members.surveys.models import Answer, MatrixAnswer, Response

    first, second = waves
    client = staff_client(director)
    answers = Answer.objects.filter(response__wave__in=waves).count()
    matrix = MatrixAnswer.objects.filter(response__wave__in=waves).count()
    councils = Response.objects.filter(wave=second, status="submitted").count()

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.question_id, a.choice, count(*) FROM members_answer a"
                " JOIN members_response r ON r.id = a.response_id"
                " WHERE r.wave_id = %s AND r.status = 'submitted'"
                " GROUP BY a.question_id, a.choice",
                [second.pk],
            )
            cursor.fetchall()

    def get(url: str, params: dict | None = None):
        def run():
            response = client.get(url, params or {})
            assert response.status_code == 200, response.status_code

        return run

    base = _p95(_time(baseline, runs))
    count_times = _time(lambda: results_count(wave_id=second.pk), 5)
    print(f"\nCouncil surveys: {councils} councils x {QUESTIONS} questions per wave, 2 waves, "
          f"{answers} answers + {matrix} matrix rows ({runs} runs each after 2 warm-ups; "
          f"target p95 <= 300 ms)")  # fmt: skip
    cases = [
        ("results", f"/reports/surveys/{second.pk}/", None),
        ("results_oblast", f"/reports/surveys/{second.pk}/", {"oblast": "Львівська"}),
        ("compare", f"/reports/surveys/{first.pk}/compare/{second.pk}/", None),
        ("export_xlsx", f"/reports/surveys/{second.pk}/export.xlsx", None),
    ]
    print(f"survey count_wave p50_ms={statistics.median(count_times):.0f} "
          f"max_ms={max(count_times):.0f} (the task that pre-counts one wave, 5 runs)")  # fmt: skip
    for label, url, params in cases:
        times = _time(get(url, params), runs)
        p = _p95(times)
        print(f"survey {label} p50_ms={statistics.median(times):.0f} p95_ms={p:.0f} "
              f"baseline_sql_p95_ms={base:.1f} ratio={p / base:.1f}")  # fmt: skip
