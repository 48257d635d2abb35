"""Public ledger benchmark: signing speed with and without the ledger, act-to-leaf lag, the
sequencer's append rate, inclusion proofs at 1M leaves and the verifier's full check.

    flock /tmp/opencity-bench.lock .venv/bin/python bench/ledger.py [--users 40000]
        [--clients 24] [--duration 30] [--leaves 1000000]

Own resources: PostgreSQL database `bench_ledger`, Redis db 15, port 127.0.0.1:8131.
1. seeds signed-in people and two collecting petitions (as bench/sign_surge.py does);
2. starts gunicorn, one Celery worker and celery beat (the sequencer every second);
3. signing surge "before": the ledger trigger on petitions_signature is disabled, so signing
   runs exactly as it did before the ledger; then "after": trigger enabled, same duration,
   other people, other petition; the worst act-to-leaf delay of the "after" signatures is
   lag_s (leaf appended_at minus the signature's created_at);
4. stops the worker and beat, bulk-creates `--leaves` pending acts through Django
   (baseline: plain Django bulk insert of the same rows) and times the sequencer appending
   them all (append_lps), then times 2,000 inclusion proofs over HTTP at the full size
   (proof_p95_ms; baseline: /healthz through the same gunicorn);
5. runs the standalone verifier with --full against the server (verify_1m_s; baseline: the
   same recomputation on leaves already in memory);
6. stops everything, drops the database, flushes Redis db 15.

The last line: `append_lps=… lag_s=… proof_p95_ms=… verify_1m_s=… sign_rps_before=…
sign_rps_after=…`, after a line with the baselines and ratios.
"""

from __future__ import annotations

import argparse
import http.client
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _petitions_common as common  # noqa: E402
import sign_surge  # noqa: E402

common.DB_NAME = "bench_ledger"
common.REDIS = "redis://127.0.0.1:6379/15"
PORT = sign_surge.PORT = 8131
TRIGGER = "petitions_signature_to_ledger"


def set_trigger(enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    common.psql(f"ALTER TABLE petitions_signature {action} TRIGGER {TRIGGER}", common.DB_NAME)


def surge(petition_id: int, sessions, clients: int, duration: float) -> tuple[float, int]:
    run = sign_surge.Surge(petition_id, sessions, clients, duration, keep_alive=False)
    elapsed = run.run()
    return len(run.ok_times) / elapsed, len(run.ok_times)


def wait_for_leaves(expected_subject: str, rows: int, timeout: float = 120) -> None:
    from opencity.ledger.models import Entry, Pending

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = Entry.objects.filter(subject=expected_subject).count()
        if done >= rows and not Pending.objects.exists():
            return
        time.sleep(0.5)
    raise RuntimeError(f"the sequencer did not catch up within {timeout:.0f}s")


def act_to_leaf_lag(subject: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(max(extract(epoch FROM e.appended_at - s.created_at)), 0) "
            "FROM ledger_entry e JOIN petitions_signature s ON s.id = e.source_id "
            "WHERE e.act = 'petition.signature' AND e.subject = %s",
            [subject],
        )
        return float(cursor.fetchone()[0])


def seed_pending(count: int) -> float:
    """Plain Django bulk insert of `count` pending acts; returns rows per second."""
    from django.utils import timezone

    from opencity.ledger.models import Pending

    now = timezone.now()
    started = time.monotonic()
    batch = 20_000
    for start in range(0, count, batch):
        Pending.objects.bulk_create(
            [
                Pending(
                    act="bench.act",
                    source_id=i,
                    subject=f"bench.subject/{i % 1000}",
                    person_id=i % 40_000 + 1,
                    acted_at=now,
                )
                for i in range(start, min(count, start + batch))
            ]
        )
    return count / (time.monotonic() - started)


def timed_gets(paths: list[str], clients: int = 4) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    queue = iter(paths)

    def worker() -> None:
        connection = http.client.HTTPConnection(common.HOST, PORT, timeout=30)
        for path in queue:
            began = time.monotonic()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            with lock:
                latencies.append(time.monotonic() - began)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=40_000)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    env = sign_surge.common.configure_environment(tmp)
    env["RATE_LIMIT_API_PER_MINUTE"] = "100000000"
    env["LEDGER_DEV_KEY_FILE"] = str(tmp / "ledger.key")
    import os

    os.environ.update(
        {"RATE_LIMIT_API_PER_MINUTE": "100000000", "LEDGER_DEV_KEY_FILE": str(tmp / "ledger.key")}
    )
    server = worker = beat = None
    try:
        common.recreate_database()
        common.flush_redis()
        first, second, sessions = sign_surge.seed(env, args.users, threshold=10**9)
        half = len(sessions) // 2
        print(f"seeded {len(sessions)} signed-in people")
        celery = [common.PYTHON, "-m", "celery", "-A", "opencity"]
        worker = common.start(
            env,
            [*celery, "worker", "-l", "warning", "-P", "threads", "-c", "2",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            tmp / "celery.log",
        )  # fmt: skip
        beat = common.start(
            env, [*celery, "beat", "-l", "warning", "-s", str(tmp / "beat")], tmp / "beat.log"
        )
        server = common.gunicorn(env, PORT, args.workers, args.threads, tmp / "gunicorn.log")
        load_before = common.load_average()

        set_trigger(False)
        rps_before, ok_before = surge(first, sessions[:half], args.clients, args.duration)
        print(f"before (no ledger trigger): {ok_before} signatures, {rps_before:.0f}/s")
        set_trigger(True)
        rps_after, ok_after = surge(second, sessions[half:], args.clients, args.duration)
        print(f"after (trigger + sequencer every second): {ok_after} signatures, "
              f"{rps_after:.0f}/s")  # fmt: skip
        subject = f"petitions.petition/{second}"
        wait_for_leaves(subject, ok_after)
        lag = act_to_leaf_lag(subject)
        print(f"worst act-to-leaf delay of the 'after' signatures: {lag:.1f}s")
        common.stop(beat)
        common.stop(worker)
        beat = worker = None

        from opencity.ledger import services
        from opencity.ledger.models import Entry

        django_insert_rps = seed_pending(args.leaves)
        started = time.monotonic()
        appended = services.sequence_all()
        append_lps = appended / (time.monotonic() - started)
        size = services.latest_checkpoint().size
        print(
            f"appended {appended} leaves ({size} in the log) at {append_lps:.0f}/s; "
            f"plain Django bulk insert of the same pending rows {django_insert_rps:.0f}/s"
        )

        rng = random.Random(15)
        paths = [f"/ledger/proof/inclusion?leaf={rng.randrange(size)}&size={size}"
                 for _ in range(args.proofs)]  # fmt: skip
        proof = timed_gets(paths)
        health = timed_gets(["/healthz"] * args.proofs)
        proof_p95 = 1000 * common.percentile(proof, 0.95)
        health_p95 = 1000 * common.percentile(health, 0.95)

        state = tmp / "verify-state.json"
        started = time.monotonic()
        result = subprocess.run(
            [common.PYTHON, str(common.ROOT / "opencity" / "ledger" / "verify.py"),
             f"http://{common.HOST}:{PORT}", "--full", "--state", str(state)],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        verify_s = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(f"verifier failed: {result.stdout}{result.stderr}")
        from opencity.ledger.verify import leaf_hash, root_from_leaf_hashes

        data = [bytes(v) for v in Entry.objects.order_by("index").values_list("data", flat=True)]
        started = time.monotonic()
        root_from_leaf_hashes([leaf_hash(item) for item in data])
        recompute_s = time.monotonic() - started

        print(f"load average before/after: {load_before} / {common.load_average()}; busiest "
              f"processes: {common.other_load()} (machine shared with other helpers)")  # fmt: skip
        print(
            f"baselines: django_bulk_insert_rps={django_insert_rps:.0f} "
            f"(append ratio {append_lps / django_insert_rps:.2f}); "
            f"healthz_p95_ms={health_p95:.1f} (proof ratio {proof_p95 / health_p95:.2f}); "
            f"in_memory_recompute_s={recompute_s:.1f} (verify ratio {verify_s / recompute_s:.1f}); "
            f"sign after/before={rps_after / rps_before:.3f}"
        )
        print(
            f"append_lps={append_lps:.0f} lag_s={lag:.1f} proof_p95_ms={proof_p95:.1f} "
            f"verify_1m_s={verify_s:.1f} sign_rps_before={rps_before:.0f} "
            f"sign_rps_after={rps_after:.0f}"
        )
    finally:
        common.stop(server)
        common.stop(worker)
        common.stop(beat)
        try:
            common.drop_database()
        finally:
            common.flush_redis()


if __name__ == "__main__":
    main()
