"""Paper and online at once: two service-centre clerks enter batches of paper signatures
while online signers surge at the SAME petition, a share of the people on both sides.

    .venv/bin/python bench/paper_entry.py [--users 20000] [--clients 24] [--duration 45]
                                          [--overlap 0.3] [--batch-lines 100]

What it does, bounded in time and cleaning up after itself:
1. creates the PostgreSQL database `bench_petitions` (dropped first if left over), migrates,
   seeds `--users` verified people with signed-in sessions and a collecting petition (as
   bench/sign_surge.py does), gives every person an identity key (the HMAC of a valid
   РНОКПП, as an identity provider's login would) and makes two service-centre clerks;
2. starts gunicorn (gthread) on 127.0.0.1:8101 and one Celery worker, on Redis db 11;
3. for `--duration` seconds: `--clients` threads POST /petitions/<id>/sign/, each request as
   a different person; meanwhile two clerk threads enter paper lines through the service
   (paper.services.line_enter, what the admin form calls), batches of `--batch-lines`; each
   full batch is confirmed by the other clerk (four eyes). The paper sheets hold, in the
   online signers' order, `--overlap` of the same people, the rest people with no account;
4. counts, from the database: persons counted twice (a key with an online signature and a
   paper line not voided, or two paper lines: must be 0), acts acknowledged but not stored
   (a success message or a returned line without its row: must be 0), and conflicts (second
   acts refused: online "already counted on paper" messages plus paper lines refused);
5. stops gunicorn and the worker, drops the database, flushes Redis db 11.

The last line is `entries_rps=… online_rps=… duplicates=… lost=… conflicts=…`.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _petitions_common as common  # noqa: E402
import sign_surge  # noqa: E402

PORT = sign_surge.PORT
SUCCESS, ERROR = 25, 40


def number_of(index: int) -> str:
    from opencity.identity.keys import rnokpp_check_digit

    nine = f"{100_000_000 + index:09d}"
    return nine + str(rnokpp_check_digit(nine))


def give_keys(sessions) -> None:
    """Every seeded person gets the key of the РНОКПП numbered by their place in `sessions`."""
    from django.db import connection

    from opencity.identity.keys import DocumentType, identity_key

    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY identity_personkey (user_id, key, source, created_at) FROM STDIN"
        ) as copy,
    ):
        for index, (pk, _key, _csrf) in enumerate(sessions):
            copy.write_row((pk, identity_key(DocumentType.RNOKPP, number_of(index)), "provider",
                            "now"))  # fmt: skip
    connection.close()


def make_clerks(city_id: int):
    from opencity.accounts.models import User
    from opencity.cities.models import StaffRole

    clerks = []
    for n in (1, 2):
        user = User.objects.create_user(
            email=f"clerk{n}@bench.opencity.test", full_name=f"Оператор ЦНАП {n}"
        )
        StaffRole.objects.create(user=user, city_id=city_id, role=StaffRole.Role.SERVICE_CLERK)
        clerks.append(user)
    return clerks


class Clerks:
    """Two clerks entering lines; a full batch goes to the other clerk to confirm."""

    def __init__(self, petition_id: int, clerks, sheet: list[str], duration: float, size: int):
        self.petition_id = petition_id
        self.clerks = clerks
        self.sheet = sheet
        self.duration = duration
        self.size = size
        self.next_line = itertools.count()
        self.to_confirm = [queue.Queue(), queue.Queue()]  # batches each clerk must confirm
        self.lock = threading.Lock()
        self.entered: list[int] = []  # ids of lines acknowledged
        self.refused_counted = 0
        self.errors: dict[str, int] = {}
        self.confirmed = 0
        self.started = 0.0

    def _open(self, clerk):
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.utils import timezone

        from paper import services
        from petitions.models import Petition

        return services.batch_open(
            clerk=clerk,
            petition=Petition.objects.get(pk=self.petition_id),
            place="ЦНАП, вул. Винниченка, 8",
            collected_on=timezone.localdate(),
            scan=SimpleUploadedFile("s.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"),
        )

    def _confirm_waiting(self, me: int) -> None:
        from paper import services

        while True:
            try:
                batch = self.to_confirm[me].get_nowait()
            except queue.Empty:
                return
            services.batch_confirm(clerk=self.clerks[me], batch=batch)
            with self.lock:
                self.confirmed += 1

    def worker(self, me: int) -> None:
        from django.db import connection

        from opencity.core import Refused
        from opencity.identity.keys import DocumentType
        from paper import services

        clerk, other = self.clerks[me], 1 - me
        batch, lines = self._open(clerk), 0
        deadline = self.started + self.duration
        try:
            while time.monotonic() < deadline:
                index = next(self.next_line)
                if index >= len(self.sheet):
                    break
                try:
                    line = services.line_enter(
                        clerk=clerk,
                        batch=batch,
                        full_name=f"Особа {index}",
                        id_kind=DocumentType.RNOKPP,
                        id_number=self.sheet[index],
                        address="м. Луцьк, вул. Шевченка, 5",
                    )
                except Refused as refusal:
                    with self.lock:
                        if refusal.code == "counted":
                            self.refused_counted += 1
                        else:
                            self.errors[refusal.code] = self.errors.get(refusal.code, 0) + 1
                    continue
                with self.lock:
                    self.entered.append(line.pk)
                lines += 1
                if lines >= self.size:
                    self.to_confirm[other].put(batch)
                    batch, lines = self._open(clerk), 0
                self._confirm_waiting(me)
            if lines:
                self.to_confirm[other].put(batch)
        finally:
            connection.close()

    def finish(self) -> None:
        """What is left to confirm after the surge (each clerk confirms the other's)."""
        from django.db import connection

        for me in (0, 1):
            self._confirm_waiting(me)
        connection.close()

    def run(self) -> float:
        threads = [threading.Thread(target=self.worker, args=(me,)) for me in (0, 1)]
        self.started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - self.started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--duration", type=float, default=45.0)
    parser.add_argument(
        "--overlap",
        type=float,
        default=0.3,
        help="share of the paper lines that are people who also sign online",
    )
    parser.add_argument("--batch-lines", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()  # fmt: skip

    tmp = Path(tempfile.mkdtemp(prefix="bench-paper-"))
    env = common.configure_environment(tmp)
    import os

    # All the bench's people come from one address: its limit must not be what is measured.
    extra = {
        "PRIVATE_FILES_ROOT": str(tmp / "private"),
        "RATE_LIMIT_SIGN_PER_MINUTE": "1000",
        "RATE_LIMIT_ADDRESS_FACTOR": "1000",
    }
    os.environ.update(extra)
    env.update(extra)
    server = worker = None
    try:
        common.recreate_database()
        common.flush_redis()
        t0 = time.monotonic()
        petition_id, _raw_id, sessions = sign_surge.seed(env, args.users, 10**9)
        give_keys(sessions)
        from petitions.models import Petition

        clerks = make_clerks(Petition.objects.get(pk=petition_id).city_id)
        # The sheets: in the online signers' order, every 1/overlap-th line one of them, the
        # others people without an account (numbers past the seeded ones).
        step = max(1, round(1 / args.overlap)) if args.overlap > 0 else 0
        fresh = itertools.count(len(sessions))
        sheet = [
            number_of(i) if step and i % step == 0 else number_of(next(fresh))
            for i in range(len(sessions))
        ]
        print(f"seeded {len(sessions)} people with identity keys in {time.monotonic() - t0:.0f}s")
        worker = common.start(
            env,
            [common.PYTHON, "-m", "celery", "-A", "opencity", "worker", "-l", "warning",
             "-P", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            tmp / "celery.log",
        )  # fmt: skip
        server = common.gunicorn(env, PORT, args.workers, args.threads, tmp / "gunicorn.log")
        print(f"{args.clients} online signers and 2 clerks for {args.duration:.0f}s; "
              f"load {common.load_average()}")  # fmt: skip
        surge = sign_surge.Surge(petition_id, sessions, args.clients, args.duration, False)
        desk = Clerks(petition_id, clerks, sheet, args.duration, args.batch_lines)
        online_thread = threading.Thread(target=surge.run)
        online_thread.start()
        paper_elapsed = desk.run()
        online_thread.join()
        desk.finish()
        online_elapsed = time.monotonic() - surge.started

        from django.contrib.messages.storage.cookie import CookieStorage
        from django.db import connection
        from django.http import HttpRequest

        storage = CookieStorage(HttpRequest())
        levels = [[m.level for m in (storage._decode(raw) or [])] for raw in surge.message_cookies]
        online_ok = sum(1 for found in levels if SUCCESS in found)
        online_refused = sum(1 for found in levels if ERROR in found)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM petitions_signature WHERE petition_id = %s", [petition_id]
            )
            signature_rows = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM paper_line WHERE id = ANY(%s)", [desk.entered or [0]]
            )
            line_rows = cursor.fetchone()[0]
            cursor.execute(
                """
                WITH paper AS (
                    SELECT l.key FROM paper_line l JOIN paper_batch b ON b.id = l.batch_id
                    WHERE b.petition_id = %(p)s AND b.status <> 'rejected'
                      AND l.voided_at IS NULL AND l.key IS NOT NULL
                ), online AS (
                    SELECT k.key FROM petitions_signature s
                    JOIN identity_personkey k ON k.user_id = s.user_id
                    WHERE s.petition_id = %(p)s
                )
                SELECT (SELECT count(*) FROM paper JOIN online USING (key))
                     + (SELECT count(*) - count(DISTINCT key) FROM paper)
                """,
                {"p": petition_id},
            )
            duplicates = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM paper_line l JOIN paper_batch b ON b.id = l.batch_id "
                "WHERE b.petition_id = %s AND l.counted_at IS NOT NULL",
                [petition_id],
            )
            counted_paper = cursor.fetchone()[0]
        lost = max(0, online_ok - signature_rows) + max(0, len(desk.entered) - line_rows)
        conflicts = online_refused + desk.refused_counted
        print(f"online: requests={len(surge.latencies)} recorded={online_ok} "
              f"refused_as_counted_on_paper={online_refused} failures={surge.failures or 0} "
              f"rows={signature_rows} in {online_elapsed:.1f}s")  # fmt: skip
        print(f"paper: lines={len(desk.entered)} refused_as_counted={desk.refused_counted} "
              f"other_refusals={desk.errors or 0} batches_confirmed={desk.confirmed} "
              f"counted_lines={counted_paper} in {paper_elapsed:.1f}s")  # fmt: skip
        print(f"load average after: {common.load_average()}")
        print(
            f"entries_rps={len(desk.entered) / paper_elapsed:.1f} "
            f"online_rps={online_ok / online_elapsed:.0f} duplicates={duplicates} lost={lost} "
            f"conflicts={conflicts}"
        )
    finally:
        common.stop(server)
        common.stop(worker)
        try:
            common.drop_database()
        finally:
            common.flush_redis()


if __name__ == "__main__":
    main()
