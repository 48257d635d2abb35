"""pytest plugin of bin/mutation: runs every mutant of a plan inside one test session.

Loaded with `-p tests.mutation.plugin` and `OPENCITY_MUTATION_PLAN=<plan.json>` (written by
tests/mutation/run.py). At import it puts the mutated copies of the configured source files
in front of the real ones (mutmut's trampolines: every mutant is in the module, the active
one is chosen by name at call time), before Django or a test imports them. The session then:

1. runs every selected test once with no mutant active ("stats": mutmut's trampolines record
   which tests call which mutated function); a failing clean test stops everything;
2. for each mutant, runs the tests that call its function (for an SQL mutation: every
   selected test of its module), fastest first, until one fails (killed) or all pass
   (survived); a run over its time budget is a timeout.

The database is created once and every test keeps its own transaction, exactly as in
bin/test; nothing is written to the source tree.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol

PLAN = json.loads(Path(os.environ["OPENCITY_MUTATION_PLAN"]).read_text())


class _MutatedSources(importlib.abc.MetaPathFinder):
    """Imports the configured modules from their mutated copies (same module names)."""

    def __init__(self, files: dict[str, dict]):
        self.files = files

    def find_spec(self, fullname, path=None, target=None):
        entry = self.files.get(fullname)
        if entry is None:
            return None
        search = [str(Path(entry["original"]).parent)] if entry["package"] else None
        return importlib.util.spec_from_file_location(
            fullname, entry["mutated"], submodule_search_locations=search
        )


sys.meta_path.insert(0, _MutatedSources(PLAN["files"]))


class MutantTimeout(BaseException):
    """Raised by the alarm inside a test that ran past its mutant's time budget."""


def _alarm(signum, frame):
    raise MutantTimeout


def _set_mutant(name: str) -> None:
    from mutmut.mutation.trampoline import set_mutant_under_test

    set_mutant_under_test(name)


def _run_item(item, nextitem) -> tuple[bool, float]:
    """Run one test quietly; (passed, seconds)."""
    started = time.monotonic()
    reports = _protocol(item, nextitem)
    passed = all(not r.failed for r in reports)
    return passed, time.monotonic() - started


def _protocol(item, nextitem) -> list:
    """Set up, run and tear down one test. The previous test was torn down against a guess of
    what runs next; first tear down what this one does not share with it (another module's
    fixtures), as pytest's own loop would have."""
    item.session._setupstate.teardown_exact(item)
    return runtestprotocol(item, nextitem=nextitem, log=False)


def _other(items, item):
    """A next item different from `item`, so that its function fixtures are torn down while
    the session's (the test database) stay."""
    return next(i for i in items if i is not item)


class _SqlPatch:
    """Swap a module-level SQL string for its mutated text in every module that holds it."""

    def __init__(self, mutant: dict):
        self.mutant = mutant
        self.swapped: list[tuple[object, str, str]] = []

    def __enter__(self):
        find, replace = self.mutant["find"], self.mutant["replace"]
        owner = sys.modules[self.mutant["module"]]
        # The snippet occurs once in the source (run.py checks), but a statement may be built
        # from another at import (e.g. `_SIGN_SQL.replace(...)`): every module-level string
        # holding it is mutated, so each statement built from the mutated text changes too.
        holders = {
            name: value
            for name, value in vars(owner).items()
            if isinstance(value, str) and find in value
        }
        if not holders:
            raise RuntimeError(
                f"SQL mutation {self.mutant['id']}: no module-level string of "
                f"{self.mutant['module']} contains {find!r}"
            )
        prefixes = tuple(p + "." for p in PLAN["packages"]) + tuple(PLAN["packages"])
        for original in holders.values():
            mutated = original.replace(find, replace, 1)
            for module in list(sys.modules.values()):
                if not getattr(module, "__name__", "").startswith(prefixes):
                    continue
                for name, value in list(vars(module).items()):
                    if value is original:
                        setattr(module, name, mutated)
                        self.swapped.append((module, name, original))
        return self

    def __exit__(self, *exc):
        for module, name, original in self.swapped:
            setattr(module, name, original)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if session.testsfailed or session.config.option.collectonly:
        return None
    items = session.items
    if len(items) < 2:
        raise pytest.UsageError("bin/mutation needs at least two selected tests")
    module_of = {item.nodeid: _module_of_test(item.nodeid) for item in items}
    results: dict = {"baseline_seconds": 0.0, "mutants": {}}
    started = time.monotonic()

    # 1. The clean run, recording which tests call which mutated function.
    from mutmut.state import state

    _set_mutant("stats")
    tests_by_function: dict[str, list[str]] = {}
    duration: dict[str, float] = {}
    failed = []
    for index, item in enumerate(items):
        state()._stats.clear()
        nextitem = items[index + 1] if index + 1 < len(items) else _other(items, item)
        passed, seconds = _run_item(item, nextitem)
        duration[item.nodeid] = seconds
        if not passed:
            failed.append(item.nodeid)
        for function in state()._stats:
            tests_by_function.setdefault(function, []).append(item.nodeid)
    state()._stats.clear()
    results["baseline_seconds"] = round(time.monotonic() - started, 1)
    if failed:
        results["clean_failures"] = failed
        _write(results)
        session.testsfailed = len(failed)
        return True

    # 2. Every mutant of the plan.
    by_id = {item.nodeid: item for item in items}
    signal.signal(signal.SIGALRM, _alarm)
    # The tests that killed a mutant of the same function go first (they usually kill its
    # other mutants too), then the rest fastest first: the same tests run, in less time.
    killers: dict[str, list[str]] = {}
    for mutant in PLAN["mutants"]:
        if mutant["kind"] == "python":
            nodeids = tests_by_function.get(mutant["function_key"], [])
        else:
            nodeids = [n for n in by_id if module_of[n] in mutant["tests"]]
        recent = killers.setdefault(mutant["function_key"], [])
        rank = {n: i for i, n in enumerate(recent)}
        nodeids = sorted(nodeids, key=lambda n: (rank.get(n, len(rank)), duration[n]))
        budget = PLAN["timeout_constant"] + PLAN["timeout_factor"] * sum(
            duration[n] for n in nodeids
        )
        status, killer = _run_mutant(mutant, [by_id[n] for n in nodeids], items, budget)
        if killer:
            recent[:] = [killer] + [n for n in recent if n != killer][:4]
        results["mutants"][mutant["id"]] = {
            "status": status,
            "killed_by": killer,
            "failure": _LAST_FAILURE[0][-3000:] if killer else "",
        }
        print(f"mutant {status:9} {mutant['id']} {killer}", file=sys.stderr, flush=True)
    _set_mutant("")
    _write(results)
    return True


def _run_mutant(mutant: dict, tests: list, items: list, budget: float) -> tuple[str, str]:
    if not tests:
        return "no_tests", ""
    timed_out = False
    killer = ""
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        if mutant["kind"] == "python":
            _set_mutant(mutant["name"])
            killer = _first_failure(tests, items)
        else:
            _set_mutant("")
            with _SqlPatch(mutant):
                killer = _first_failure(tests, items)
    except MutantTimeout:
        timed_out = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _set_mutant("")
    if timed_out or killer == "timeout":
        return "timeout", ""
    return ("killed", killer) if killer else ("survived", "")


_LAST_FAILURE = [""]


def _first_failure(tests: list, items: list) -> str:
    for item in tests:
        reports = _protocol(item, _other(items, item))
        for report in reports:
            if report.failed:
                _LAST_FAILURE[0] = str(report.longrepr)
                if "MutantTimeout" in str(report.longrepr):
                    return "timeout"
                return item.nodeid
    return ""


def _module_of_test(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _write(results: dict) -> None:
    Path(PLAN["results"]).write_text(json.dumps(results, indent=1))
