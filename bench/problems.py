"""Problem reports benchmark: the map's bounding-box JSON, the filtered list and filing with
a 3 MB photo, with 1,000,000 reports in PostgreSQL.

    flock /tmp/opencity-bench.lock .venv/bin/python bench/problems.py \
        [--reports 1000000] [--cities 35] [--clients 8] [--duration 20]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_problems` (dropped first if left over), migrates,
   adds `--cities` cities (each with a map box of about 11 × 11 km, three departments and
   ten categories) and generates the reports server-side with INSERT … SELECT over
   generate_series (random points inside each city's box, every status, two years of dates),
   then VACUUM ANALYZE;
2. starts gunicorn (gthread) on 127.0.0.1:8131 with Redis db 15 on 6379 (no Celery worker:
   photo thumbnails are queued, not made, during the run);
3. bbox: `--clients` threads ask /problems/map.json for a whole city's box (the city page's
   map at its opening zoom, ~28,000 reports, answered as server-side clusters) or a quarter
   of it, for `--duration` seconds; the same SQL is then timed through psycopg directly
   (the raw baseline, one connection per client thread, same boxes) in the same run;
4. list: the same threads read /problems/city/<slug>/?status=…&page=1..5;
5. file: the same threads, signed in as different people, POST the filing form with one
   3 MB JPEG (multipart, CSRF token, map point) for `--duration` seconds;
6. stops gunicorn, drops the database, flushes Redis db 15, deletes the uploaded files.

The last line is `bbox_p95_ms=… list_p95_ms=… file_rps=… ratio_bbox_to_raw=…`.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _petitions_common as common  # noqa: E402  (process helpers only; own DB and Redis)

DB_NAME = "bench_problems"
REDIS = "redis://127.0.0.1:6379/15"
PORT = 8131
PG = "postgres://postgres@127.0.0.1:5432"
BOX_DEG = 0.1


def environment(tmp: Path) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "opencity.settings",
        "DJANGO_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "CACHE_REDIS_URL": REDIS,
        "CACHE_KEY_PREFIX": "bench-problems",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        "MEDIA_ROOT": str(tmp / "media"),
        "MEMBERS_PRIVATE_FILES_ROOT": str(tmp / "private"),
        "RATE_LIMIT_PROBLEM_PER_HOUR": "1000000",
        "RATE_LIMIT_PROBLEM_PER_IP_HOUR": "1000000",
        "RATE_LIMIT_PROBLEM_PHOTOS_PER_HOUR": "1000000",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    return {**os.environ, **env}


def psql(sql: str, database: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def seed(env: dict, n_cities: int, n_reports: int, n_users: int) -> dict:
    common.manage(env, "migrate", "-v0")
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from opencity.accounts.models import User
    from opencity.cities.models import City
    from problems.models import Category, CityArea, Department

    rng = random.Random(311)
    cities = []
    for i in range(n_cities):
        city = City.objects.create(
            katottg=f"UA{i + 1:017d}",
            slug=f"bench-city-{i + 1}",
            name_uk=f"Громада {i + 1}",
            name_en=f"City {i + 1}",
            oblast_uk="Область",
            oblast_en="Oblast",
        )
        south, west = 45.5 + rng.uniform(0, 6), 23.0 + rng.uniform(0, 15)
        CityArea.objects.create(
            city=city, min_lat=south, max_lat=south + BOX_DEG, min_lon=west,
            max_lon=west + BOX_DEG * 1.5,
        )  # fmt: skip
        departments = [
            Department.objects.create(city=city, name_uk=f"Відділ {d}") for d in range(3)
        ]
        for p in range(3):
            parent = Category.objects.create(city=city, name_uk=f"Розділ {p}")
            for c in range(4 if p == 0 else 3):
                Category.objects.create(
                    city=city, parent=parent, name_uk=f"Категорія {p}.{c}",
                    department=departments[p],
                )  # fmt: skip
        cities.append(city)
    password = make_password("bench-password-42")
    users = User.objects.bulk_create(
        [User(email=f"bench{i}@example.org", full_name=f"Особа {i}", password=password)
         for i in range(n_users)]
    )  # fmt: skip
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
    )
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.311)")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_pick AS
            SELECT (row_number() OVER (ORDER BY c.id)) - 1 AS n, c.city_id, c.id AS category_id,
                   c.department_id, a.min_lat, a.max_lat, a.min_lon, a.max_lon
            FROM problems_category c JOIN problems_cityarea a ON a.city_id = c.city_id
            WHERE c.parent_id IS NOT NULL
            """
        )
        cursor.execute("SELECT count(*) FROM bench_pick")
        combinations = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO problems_report (
                city_id, category_id, department_id, reporter_id, public_name, contact_email,
                contact_name, title, description, lat, lon, address, status, source, token,
                created_at, updated_at, answer_due, answer_text, rejection_reason, text_hidden,
                fixed_answer)
            SELECT p.city_id, p.category_id, p.department_id, %s, '', '', '',
                   'Проблема № ' || g, 'Опис проблеми',
                   p.min_lat + random() * (p.max_lat - p.min_lat),
                   p.min_lon + random() * (p.max_lon - p.min_lon), '',
                   (ARRAY['new','accepted','in_progress','done','done','rejected'])[1 + g %% 6],
                   'web', gen_random_uuid(), now() - random() * interval '730 days', now(),
                   current_date + 10, '', CASE WHEN g %% 6 = 5 THEN 'Не наша ділянка' ELSE '' END,
                   false, ''
            FROM generate_series(1, %s) AS g
            JOIN bench_pick p ON p.n = (g::bigint * 7919) %% %s
            """,
            [users[0].pk, n_reports, combinations],
        )
    connection.close()
    psql("VACUUM ANALYZE problems_report", DB_NAME)
    print(f"generated {n_reports} reports in {time.monotonic() - started:.0f}s")
    boxes = [
        (c.slug, c.problem_area.min_lon, c.problem_area.min_lat, c.problem_area.max_lon,
         c.problem_area.max_lat, c.pk)
        for c in City.objects.select_related("problem_area").filter(pk__in=[c.pk for c in cities])
    ]  # fmt: skip
    leaves = {
        c.slug: list(
            Category.objects.filter(city=c, parent__isnull=False).values_list("pk", flat=True)
        )
        for c in cities
    }
    return {"boxes": boxes, "users": [u.pk for u in users], "leaves": leaves}


def sessions_for(user_ids: list[int]) -> list[tuple[str, str]]:
    """(session key, CSRF secret) per user, made the way a login makes them."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import connection

    from opencity.accounts.models import User

    store = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"]).SessionStore
    out = []
    for user in User.objects.filter(pk__in=user_ids):
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        session.save()
        out.append((session.session_key, secrets.token_hex(16)))
    connection.close()
    return out


def photo_3mb() -> bytes:
    from PIL import Image

    rng = random.Random(3)
    side = 1620
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    for quality in (95, 90, 85, 80, 70):
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        if out.tell() <= 3_300_000:
            return out.getvalue()
    return out.getvalue()


def multipart(fields: dict, photo: bytes) -> tuple[bytes, str]:
    boundary = "----bench" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            .encode()
        )  # fmt: skip
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def run_clients(n: int, duration: float, work) -> tuple[list[float], int, list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    until = time.monotonic() + duration

    def client(index: int) -> None:
        rng = random.Random(index)
        state: dict = {}
        local: list[float] = []
        while time.monotonic() < until:
            began = time.monotonic()
            try:
                ok = work(index, rng, state)
            except Exception as exc:  # a bench reports errors, it does not stop on them
                ok = f"{type(exc).__name__}: {exc}"
                state.clear()
            if ok is True:
                local.append(time.monotonic() - began)
            else:
                with lock:
                    errors.append(str(ok))
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return latencies, len(latencies), errors, elapsed


def http_get(state: dict, path: str) -> bool | str:
    conn = state.get("conn") or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    state["conn"] = conn
    conn.request("GET", path, headers={"Accept-Language": "uk"})
    response = conn.getresponse()
    response.read()
    return True if response.status == 200 else f"{response.status} {path}"


def pick_box(rng: random.Random, boxes: list) -> tuple:
    slug, west, south, east, north, city_id = rng.choice(boxes)
    if rng.random() < 0.5:
        return slug, (west, south, east, north), city_id
    # A quarter of the city (one zoom level in).
    dx, dy = (east - west) / 2, (north - south) / 2
    x, y = west + rng.uniform(0, dx), south + rng.uniform(0, dy)
    return slug, (x, y, x + dx, y + dy), city_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--cities", type=int, default=35)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-problems-"))
    env = environment(tmp)
    server = None
    try:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        psql(f"CREATE DATABASE {DB_NAME}")
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        data = seed(env, args.cities, args.reports, args.clients * 4)
        sessions = sessions_for(data["users"])
        server = common.gunicorn(env, PORT, args.workers, args.threads, tmp / "gunicorn.log")
        print(f"gunicorn {args.workers}x{args.threads} on :{PORT}, {args.clients} clients, "
              f"{args.duration:.0f}s per phase; load {common.load_average()}; "
              f"busiest other processes: {common.other_load()}")  # fmt: skip
        boxes = data["boxes"]

        def bbox(index, rng, state):
            slug, (w, s, e, n), _ = pick_box(rng, boxes)
            return http_get(state, f"/problems/map.json?bbox={w:.5f},{s:.5f},{e:.5f},{n:.5f}"
                                   f"&city={slug}")  # fmt: skip

        run_clients(args.clients, 3, bbox)  # warm-up
        bbox_lat, bbox_n, bbox_err, bbox_s = run_clients(args.clients, args.duration, bbox)

        import psycopg

        from problems import selectors

        def raw(index, rng, state):
            conn = state.get("conn") or psycopg.connect(f"host=127.0.0.1 user=postgres "
                                                        f"dbname={DB_NAME}")  # fmt: skip
            state["conn"] = conn
            _slug, box, city_id = pick_box(rng, boxes)
            where, params = selectors._map_where(box, selectors.MapFilters(city_id=city_id))
            with conn.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, lat, lon, status FROM problems_report WHERE {where} LIMIT %s",
                    [*params, 1001],
                )
                if len(cursor.fetchall()) > 1000:
                    west, south, east, north = box
                    cursor.execute(
                        f"SELECT avg(lat), avg(lon), count(*) FROM problems_report WHERE {where} "
                        "GROUP BY floor((lat - %s) / %s), floor((lon - %s) / %s)",
                        [*params, south, (north - south) / 24, west, (east - west) / 24],
                    )
                    cursor.fetchall()
            return True

        raw_lat, raw_n, raw_err, _ = run_clients(args.clients, args.duration, raw)

        def listing(index, rng, state):
            slug = rng.choice(boxes)[0]
            status = rng.choice(["new", "accepted", "in_progress", "done", "rejected"])
            return http_get(state, f"/problems/city/{slug}/?status={status}"
                                   f"&page={rng.randint(1, 5)}")  # fmt: skip

        run_clients(args.clients, 3, listing)
        list_lat, list_n, list_err, _ = run_clients(args.clients, args.duration, listing)

        photo = photo_3mb()

        def file(index, rng, state):
            session_key, csrf = sessions[(index * 4 + state.get("turn", 0)) % len(sessions)]
            state["turn"] = state.get("turn", 0) + 1
            slug, west, south, east, north, _ = rng.choice(boxes)
            body, content_type = multipart(
                {
                    "csrfmiddlewaretoken": csrf,
                    "category": rng.choice(data["leaves"][slug]),
                    "title": "Яма на дорозі біля зупинки",
                    "description": "Глибока, небезпечна для велосипедистів.",
                    "lat": f"{rng.uniform(south, north):.6f}",
                    "lon": f"{rng.uniform(west, east):.6f}",
                    "address": "",
                    "not_duplicate": "True",
                },
                photo,
            )
            conn = state.get("conn") or http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
            state["conn"] = conn
            conn.request(
                "POST", f"/problems/city/{slug}/new/", body=body,
                headers={"Content-Type": content_type, "Accept-Language": "uk",
                         "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
                         "Referer": f"http://127.0.0.1:{PORT}/"},
            )  # fmt: skip
            response = conn.getresponse()
            response.read()
            return True if response.status == 302 else f"file {response.status}"

        file_lat, file_n, file_err, file_s = run_clients(args.clients, args.duration, file)

        def p(values, q):
            return 1000 * common.percentile(values, q)

        print(f"photo {len(photo) / 1e6:.1f} MB; load average after: {common.load_average()}")
        print(f"  bbox  n={bbox_n} p50={p(bbox_lat, .5):.1f} ms p95={p(bbox_lat, .95):.1f} ms "
              f"({bbox_n / bbox_s:.0f}/s) errors={len(bbox_err)} {bbox_err[:2]}")  # fmt: skip
        print(f"  raw   n={raw_n} p50={p(raw_lat, .5):.1f} ms p95={p(raw_lat, .95):.1f} ms "
              f"errors={len(raw_err)}")  # fmt: skip
        print(f"  list  n={list_n} p50={p(list_lat, .5):.1f} ms p95={p(list_lat, .95):.1f} ms "
              f"errors={len(list_err)} {list_err[:2]}")  # fmt: skip
        print(f"  file  n={file_n} p50={p(file_lat, .5):.1f} ms p95={p(file_lat, .95):.1f} ms "
              f"errors={len(file_err)} {file_err[:2]}")  # fmt: skip
        print(
            f"bbox_p95_ms={p(bbox_lat, 0.95):.1f} list_p95_ms={p(list_lat, 0.95):.1f} "
            f"file_rps={file_n / file_s:.1f} "
            f"ratio_bbox_to_raw={p(bbox_lat, 0.95) / max(p(raw_lat, 0.95), 1e-6):.2f}"
        )
    finally:
        common.stop(server)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110  (Django may not be set up if seeding failed early)
            pass
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
