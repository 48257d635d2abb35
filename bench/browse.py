"""Petitions benchmark: 50 concurrent readers on the list, search and petition pages with
100,000 petitions and 2,000,000 signatures.

    .venv/bin/python bench/browse.py [--petitions 100000] [--signatures 2000000]
                                     [--readers 50] [--duration 60] [--think 1] [--saturate 20]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_petitions` (dropped first if left over), migrates,
   imports the hromadas and bulk-seeds people, petitions and signatures with the
   bench/seed_petitions.py (server-side INSERT … SELECT; 1,000 "hot" petitions with
   about a thousand signers each, the rest with ten);
2. starts gunicorn (gthread) on 127.0.0.1:8102 on Redis db 11 (anonymous readers);
3. `--readers` threads each loop for `--duration` seconds over keep-alive connections:
   a list page (sort by most signed / newest / ending soon, pages 1-10, or a city's page),
   a search (one of the seeded words, any sort), or a petition page (80% one of the hot
   petitions, 20% any public petition; sometimes a later page of signatories), pausing
   pausing on average `--think` seconds between pages (a person reads a page; 0 makes
   every reader a tight loop);
4. prints p50/p95 per page kind; then, with `--saturate N`, runs N seconds without pauses
   to measure capacity (pages/s at saturation; latency there is readers / capacity);
5. stops gunicorn, drops the database, flushes Redis db 11.

The last line is `list_p50_ms=… list_p95_ms=… search_p50_ms=… search_p95_ms=… detail_p50_ms=…
detail_p95_ms=… rps=… errors=… saturated_rps=…` (percentiles from the phase with pauses).
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _petitions_common as common  # noqa: E402

PORT = 8102


def seed(env: dict, users: int, petitions: int, signatures: int) -> dict:
    common.manage(env, "migrate", "-v0")
    common.manage(env, "import_hromadas", "-v0")
    common.seed_petitions(
        env, "--users", str(users), "--petitions", str(petitions),
        "--signatures", str(signatures),
    )  # fmt: skip
    import django

    django.setup()
    from seed_petitions import WORDS

    from petitions.models import Petition

    public = Petition.objects.filter(status__in=Petition.PUBLIC_STATUSES)
    ids = list(public.order_by("pk").values_list("pk", flat=True))
    hot = list(public.order_by("-signature_count").values_list("pk", flat=True)[:1000])
    slugs = sorted(set(public.values_list("city__slug", flat=True)[:5000]))
    from django.db import connection

    connection.close()
    return {"ids": ids, "hot": hot, "slugs": slugs, "words": WORDS}


def pick(kind: str, data: dict, rng: random.Random) -> str:
    if kind == "list":
        if rng.random() < 0.25:
            return f"/petitions/city/{rng.choice(data['slugs'])}/?page={rng.randint(1, 3)}"
        sort = rng.choice(["signed", "newest", "ending"])
        return f"/petitions/?sort={sort}&page={rng.randint(1, 10)}"
    if kind == "search":
        sort = rng.choice(["signed", "newest"])
        return f"/petitions/?q={quote(rng.choice(data['words']))}&sort={sort}"
    petition = rng.choice(data["hot"]) if rng.random() < 0.8 else rng.choice(data["ids"])
    page = "" if rng.random() < 0.8 else f"?page={rng.randint(2, 20)}"
    return f"/petitions/{petition}/{page}"


def reader(seed_value: int, data: dict, until: float, think: float, results: dict, errors: list):
    rng = random.Random(seed_value)
    connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
    if think:
        time.sleep(rng.uniform(0, 2 * think))  # readers arrive over time, not all at once
    local = {"list": [], "search": [], "detail": []}
    while time.monotonic() < until:
        kind = rng.choice(("list", "search", "detail"))
        path = pick(kind, data, rng)
        began = time.monotonic()
        try:
            connection.request("GET", path, headers={"Accept-Language": "uk"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{response.status} {path}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__} {path}")
            connection.close()
            connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
            continue
        local[kind].append(time.monotonic() - began)
        if think:
            time.sleep(rng.uniform(0, 2 * think))
    connection.close()
    for kind, values in local.items():
        results[kind].extend(values)


def run_phase(data: dict, readers: int, duration: float, think: float):
    results = {"list": [], "search": [], "detail": []}
    errors: list[str] = []
    until = time.monotonic() + duration
    threads = [
        threading.Thread(target=reader, args=(i, data, until, think, results, errors))
        for i in range(readers)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    figures = {}
    for kind, values in results.items():
        values.sort()
        figures[kind] = [1000 * common.percentile(values, f) for f in (0.5, 0.95)]
        print(f"  {kind:7} n={len(values):6} p50={figures[kind][0]:.0f} ms "
              f"p95={figures[kind][1]:.0f} ms max={1000 * values[-1]:.0f} ms")  # fmt: skip
    total = sum(len(v) for v in results.values())
    print(f"  {total / elapsed:.0f} pages/s, errors={len(errors)} {errors[:3]}")
    return figures, total / elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--petitions", type=int, default=100_000)
    parser.add_argument("--signatures", type=int, default=2_000_000)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between pages, s")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds, not counted")
    parser.add_argument(
        "--saturate", type=float, default=20.0, help="then N seconds without pauses (capacity)"
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-petitions-browse-"))
    env = common.configure_environment(tmp)
    server = None
    try:
        common.recreate_database()
        common.flush_redis()
        started = time.monotonic()
        data = seed(env, args.users, args.petitions, args.signatures)
        print(
            f"seeding took {time.monotonic() - started:.0f}s; {len(data['ids'])} public petitions"
        )
        server = common.gunicorn(env, PORT, args.workers, args.threads, tmp / "gunicorn.log")
        rss = common.RssSampler(server.pid)
        rss.start()
        print(f"{args.readers} readers for {args.duration:.0f}s (think {args.think}s) against "
              f"gunicorn {args.workers}x{args.threads}; load {common.load_average()}")  # fmt: skip
        print(f"warm-up ({args.warmup:.0f}s, not counted):")
        run_phase(data, args.readers, args.warmup, args.think)
        print("measured:")
        figures, total_rps, errors = run_phase(data, args.readers, args.duration, args.think)
        saturated_rps = None
        if args.saturate:
            print(f"saturation: {args.readers} readers without pauses for {args.saturate:.0f}s")
            _figures, saturated_rps, _errors = run_phase(data, args.readers, args.saturate, 0.0)
        rss.running = False
        print(f"gunicorn worker max RSS {rss.max_mb:.0f} MB; load average after: "
              f"{common.load_average()}")  # fmt: skip
        print(
            " ".join(
                f"{kind}_p50_ms={figures[kind][0]:.0f} {kind}_p95_ms={figures[kind][1]:.0f}"
                for kind in ("list", "search", "detail")
            )
            + f" rps={total_rps:.0f} errors={len(errors)}"
            + (f" saturated_rps={saturated_rps:.0f}" if saturated_rps else "")
        )
    finally:
        common.stop(server)
        try:
            common.drop_database()
        finally:
            common.flush_redis()


if __name__ == "__main__":
    main()
