"""The independent verifier against a live server: it passes on an honest log and names the
check that fails when a leaf is changed, removed or reordered, history is rewritten, or the
checkpoint is signed with another key."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from opencity.ledger import keys, services
from opencity.ledger import verify as verifier
from opencity.ledger.models import Checkpoint, Entry, Node
from petitions import services as petition_services
from tests.factories import make_user
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def log(city_a):
    """A log of 7 signatures (an odd size: the ragged right edge is exercised)."""
    services.sequence_all()  # whatever earlier tests left pending, then start from empty
    for model in (Entry, Node, Checkpoint):
        model.objects.all().delete()
    petition = make_petition(city_a, threshold=1000)  # no "reached" decision leaf
    for _ in range(7):
        petition_services.petition_sign(petition=petition.pk, user=make_user())
    services.sequence_all()
    return petition


def run(live_server, state: Path, **options) -> verifier.Checkpoint:
    return verifier.verify(verifier.Portal(live_server.url), state, say=lambda _: None, **options)


def receipt_of(index: int) -> str:
    return Entry.objects.get(index=index).receipt_code


def test_the_standalone_script_checks_a_receipt_and_full_log_without_django(
    live_server, log, tmp_path
):
    # A copy of the one file, in a folder without the project: what a journalist downloads.
    script = tmp_path / "verify.py"
    shutil.copy(Path(verifier.__file__), script)
    entry = Entry.objects.filter(receipt_code__isnull=False).order_by("index").last()
    probe = (
        "import runpy, sys; sys.argv = sys.argv[1:]; "
        "code = 0\n"
        "try:\n runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as exit:\n code = exit.code\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django'\n"
        "assert not any(m.startswith('opencity') for m in sys.modules), 'opencity'\n"
        "sys.exit(code)"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    args = [sys.executable, "-I", "-c", probe, str(script), live_server.url]
    options = [
        "--state", str(tmp_path / "state.json"), "--receipt", entry.receipt_code,
        "--salt", bytes(entry.salt).hex(), "--person", str(entry.person_id), "--full",
    ]  # fmt: skip
    result = subprocess.run(
        args + options, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"inclusion of receipt {entry.receipt_code} as leaf {entry.index}: ok" in result.stdout
    assert "commitment: the leaf's person is the one on your receipt: ok" in result.stdout
    assert "full recomputation of 7 leaves: ok" in result.stdout

    # A wrong person number does not open the commitment.
    options[options.index("--person") + 1] = str(entry.person_id + 1)
    result = subprocess.run(
        args + options, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "FAILED: commitment" in result.stderr


def test_the_module_form_runs_too(live_server, log, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "opencity.ledger.verify", live_server.url,
         "--state", str(tmp_path / "s.json")],
        capture_output=True, text=True, timeout=60, cwd=Path(verifier.__file__).parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "all checks passed" in result.stdout


def test_a_later_run_proves_the_log_only_grew(live_server, log, tmp_path):
    state = tmp_path / "state.json"
    assert run(live_server, state).size == 7
    for _ in range(5):
        petition_services.petition_sign(petition=log.pk, user=make_user())
    services.sequence_all()
    messages = []
    verifier.verify(verifier.Portal(live_server.url), state, say=messages.append)
    assert "consistency with the checkpoint of 7 leaves seen before: ok" in messages


def test_a_changed_leaf_fails_full_recomputation_and_its_inclusion(live_server, log, tmp_path):
    state = tmp_path / "state.json"
    code = receipt_of(3)
    run(live_server, state, receipt=code, full=True)
    entry = Entry.objects.get(index=3)
    Entry.objects.filter(index=3).update(data=bytes(entry.data).replace(b'"v":1', b'"v":2'))
    with pytest.raises(verifier.Failed, match="full recomputation: the leaves do not hash"):
        run(live_server, state, full=True)
    with pytest.raises(verifier.Failed, match="inclusion: the receipt's act \\(leaf 3\\)"):
        run(live_server, state, receipt=code)


def test_a_deleted_leaf_fails_full_recomputation(live_server, log, tmp_path):
    Entry.objects.filter(index=6).delete()
    with pytest.raises(verifier.Failed, match="served 6 leaves, the checkpoint signs 7"):
        run(live_server, tmp_path / "state.json", full=True)


def test_reordered_leaves_fail_full_recomputation(live_server, log, tmp_path):
    first, second = Entry.objects.get(index=1), Entry.objects.get(index=2)
    Entry.objects.filter(index=1).update(data=bytes(second.data))
    Entry.objects.filter(index=2).update(data=bytes(first.data))
    with pytest.raises(verifier.Failed, match="full recomputation"):
        run(live_server, tmp_path / "state.json", full=True)


def test_a_rewritten_history_fails_consistency(live_server, log, tmp_path):
    """The city rebuilds the log with leaf 2 altered and signs it with its own key: each new
    checkpoint verifies on its own, but not as an extension of the one a citizen saved."""
    state = tmp_path / "state.json"
    run(live_server, state)
    rows = list(Entry.objects.order_by("index"))
    Node.objects.all().delete()
    Checkpoint.objects.all().delete()
    frontier, nodes = services.Frontier(0, []), []
    for row in rows:
        data = bytes(row.data)
        if row.index == 2:
            data = data.replace(b'"v":1', b'"v":9')
        value = verifier.leaf_hash(data)
        Entry.objects.filter(index=row.index).update(data=data, leaf_hash=value)
        frontier.append(value, nodes)
    value = verifier.leaf_hash(b'{"act":"extra"}')
    Entry.objects.create(
        index=7, act="extra", source_id=1, data=b'{"act":"extra"}', leaf_hash=value,
        acted_at=rows[0].acted_at, appended_at=rows[0].appended_at,
    )  # fmt: skip
    frontier.append(value, nodes)
    Node.objects.bulk_create(Node(level=lv, position=pos, hash=h) for lv, pos, h in nodes)
    root = frontier.root()
    Checkpoint.objects.create(size=8, root=root, note=keys.sign_checkpoint(8, root))
    with pytest.raises(verifier.Failed, match="consistency: the log is not an extension"):
        run(live_server, state)


def test_a_checkpoint_signed_with_another_key_is_refused(live_server, log, tmp_path):
    state = tmp_path / "state.json"
    run(live_server, state)  # pins the real key
    latest = Checkpoint.objects.first()
    other = base64.b64encode(b"another-key-another-key-32-byte!").decode()
    keys.private_key.cache_clear()
    try:
        with override_settings(LEDGER_SIGNING_KEY=other):
            note = keys.sign_checkpoint(latest.size + 0, bytes(latest.root))
    finally:
        keys.private_key.cache_clear()
    Checkpoint.objects.filter(size=latest.size).update(note=note)
    with pytest.raises(verifier.Failed, match="checkpoint signature: not signed by"):
        run(live_server, state)


def test_a_forged_signature_under_the_right_key_id_is_refused(live_server, log, tmp_path):
    state = tmp_path / "state.json"
    run(live_server, state)
    latest = Checkpoint.objects.first()
    body, _, signature_line = latest.note.partition("\n\n")
    prefix, encoded = signature_line.strip().rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    note = f"{body}\n\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    Checkpoint.objects.filter(size=latest.size).update(note=note)
    with pytest.raises(verifier.Failed, match="checkpoint signature: does not verify"):
        run(live_server, state)
