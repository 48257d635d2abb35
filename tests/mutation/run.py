"""bin/mutation: mutation testing of the functions citizens depend on (README, "Mutation testing").

    python -m tests.mutation.run [--sample N] [--seed S] [--module M] [--list]

Reads [tool.opencity.mutation] from pyproject.toml. For each configured module it finds the
listed functions in the listed files (by their `def`, never by line number), lets mutmut
generate every mutant of them, adds the module's hand-written SQL mutations (each located
by a snippet that must occur exactly once in the listed files), and so builds the full list.
`--sample N` draws N of that full list with the seed (default: all). The mutants listed in
the equivalents file are run like the others but left out of the score; an entry that
matches no generated mutant is reported (the file must stay true to the code).

One pytest session (tests/mutation/plugin.py) then runs the selected test files on
PostgreSQL and Redis as bin/test does. The last line printed is
`mutants=… killed=… survived=… timeout=… score=…`, where mutants counts the scored mutants
(sampled minus equivalent) and score = (killed + timeout) / mutants.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation" / f"run-{os.getpid()}"  # one folder per run: runs may overlap


@dataclass
class Mutant:
    id: str
    module: str  # the configured module (petitions, voting, ...)
    kind: str  # "python" or "sql"
    function: str  # the function name, or the SQL mutation's name
    change: str  # one line: "before -> after"
    extra: dict = field(default_factory=dict)


def load_config() -> dict:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["opencity"]["mutation"]


def dotted(path: str) -> tuple[str, bool]:
    """Module name of a source file, and whether it is a package's __init__."""
    parts = Path(path).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _squash(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


def describe(module, mutation) -> str:
    """`before -> after` for the changed node, shortened around the change."""
    before = _squash(module.code_for_node(mutation.original_node))
    after = _squash(module.code_for_node(mutation.mutated_node))
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while (
        end < min(len(before), len(after)) - start
        and before[len(before) - 1 - end] == after[len(after) - 1 - end]
    ):
        end += 1
    if len(before) > 90 or len(after) > 90:  # keep the words around the change
        lo = max(0, start - 30)
        before = ("…" if lo else "") + before[lo : len(before) - max(0, end - 30)]
        after = ("…" if lo else "") + after[lo : len(after) - max(0, end - 30)]
    return f"{before} -> {after}"


def generate(config: dict, only: str | None) -> tuple[list[Mutant], dict, dict]:
    """All mutants of the configured modules; the mutated files; the test files per module."""
    from mutmut.mutation.file_mutation import combine_mutations_to_source, create_mutations

    modules = config["modules"]
    if only and only not in modules:
        sys.exit(f"unknown module {only!r}; configured: {', '.join(modules)}")
    mutants: list[Mutant] = []
    files: dict[str, dict] = {}
    tests: dict[str, list[str]] = {}
    for name, spec in modules.items():
        if only and name != only:
            continue
        tests[name] = expand_tests(spec["tests"])
        found: set[str] = set()
        for path in spec["files"]:
            source = (ROOT / path).read_text()
            module, mutations, _classes, _functions = create_mutations(path, source)
            names = function_names(module)
            wanted = [
                m
                for m in mutations
                if names.get(m.contained_by_top_level_function) in spec["functions"]
            ]
            if not wanted:
                continue
            mutated = combine_mutations_to_source(module, wanted)
            module_name, package = dotted(path)
            target = WORK / "src" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if module_name in files:  # two configured modules share this file: merge
                wanted = files[module_name]["mutations"] + wanted
                mutated = combine_mutations_to_source(module, wanted)
            target.write_text(mutated.code)
            files[module_name] = {
                "original": str(ROOT / path),
                "mutated": str(target),
                "package": package,
                "mutations": wanted,
            }
            by_function: dict[str, int] = {}
            for mutation in wanted:
                function = names[mutation.contained_by_top_level_function]
                by_function[function] = by_function.get(function, 0) + 1
                if function not in spec["functions"]:
                    continue
                found.add(function)
                mangled = mangled_name(function)
                mutant_name = f"{mangled}__mutmut_{by_function[function]}"
                mutants.append(
                    Mutant(
                        id=f"{module_name}.{mutant_name}",
                        module=name,
                        kind="python",
                        function=function,
                        change=describe(module, mutation),
                        extra={
                            "name": f"{module_name}.{mutant_name}",
                            "key": module_name,
                            "mangled": mangled,
                        },
                    )
                )
        missing = [f for f in spec["functions"] if f not in found]
        if missing:
            sys.exit(f"module {name}: no mutants for {missing} in {spec['files']} (moved?)")
        for sql in spec.get("sql", []):
            mutants.append(sql_mutant(name, spec, sql))
    # A function listed by two modules would be run twice: keep one id.
    unique = {m.id: m for m in mutants}
    for entry in files.values():
        del entry["mutations"]
    return sorted(unique.values(), key=lambda m: m.id), files, tests


def function_names(module) -> dict:
    """Each top-level function and method of a parsed file -> its configured name
    (`name`, or `Class.name` for a method)."""
    import libcst as cst

    names = {}
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            names[statement] = statement.name.value
        elif isinstance(statement, cst.ClassDef):
            for member in statement.body.body:
                if isinstance(member, cst.FunctionDef):
                    names[member] = f"{statement.name.value}.{member.name.value}"
    return names


def mangled_name(function: str) -> str:
    """mutmut's name of a function's trampoline (x_name, or xǁClassǁname for a method)."""
    from mutmut.mutation.trampoline_templates import mangle_function_name

    class_name, _, name = function.rpartition(".")
    return mangle_function_name(name=name, class_name=class_name or None)


def sql_mutant(module_name: str, spec: dict, sql: dict) -> Mutant:
    hits = [
        path for path in spec["files"] for _ in range((ROOT / path).read_text().count(sql["find"]))
    ]
    if len(hits) != 1:
        sys.exit(
            f"SQL mutation {sql['name']}: {sql['find']!r} occurs {len(hits)} times in "
            f"{spec['files']} (it must occur exactly once)"
        )
    return Mutant(
        id=f"sql.{module_name}.{sql['name']}",
        module=module_name,
        kind="sql",
        function=sql["name"],
        change=f"{_squash(sql['find'])} -> {_squash(sql['replace'])}",
        extra={"find": sql["find"], "replace": sql["replace"], "key": dotted(hits[0])[0]},
    )


def expand_tests(entries: list[str]) -> list[str]:
    out: list[str] = []
    for entry in entries:
        path = ROOT / entry
        if path.is_dir():
            out += sorted(str(p.relative_to(ROOT)) for p in path.rglob("test_*.py"))
        elif path.is_file():
            out.append(entry)
        else:
            sys.exit(f"test selection {entry!r} does not exist")
    return out


def load_equivalents(path: Path) -> list[dict]:
    data = tomllib.loads(path.read_text()) if path.exists() else {}
    entries = data.get("mutant", [])
    for entry in entries:
        if not entry.get("reason", "").strip():
            sys.exit(f"{path}: every equivalent mutant needs a reason ({entry})")
    return entries


def _number(mutant: Mutant) -> int:
    return int(mutant.id.rsplit("_", 1)[1]) if mutant.kind == "python" else 0


def match_equivalents(mutants: list[Mutant], entries: list[dict]) -> tuple[dict, list[dict]]:
    """Equivalent mutant id -> reason; and the entries that match no generated mutant.

    An entry names one mutant by its function and change. When the same change occurs more
    than once in a function, `nth` (1-based, in source order) picks one, or `all = true`
    says each of them is equivalent; otherwise the entry is reported as ambiguous."""
    matched: dict[str, str] = {}
    stale = []
    for entry in entries:
        hits = sorted(
            (
                m
                for m in mutants
                if m.function == entry["function"] and _squash(m.change) == _squash(entry["change"])
            ),
            key=_number,
        )
        if "nth" in entry:
            hits = hits[entry["nth"] - 1 : entry["nth"]]
        elif len(hits) > 1 and not entry.get("all"):
            entry = {**entry, "problem": f"ambiguous: {len(hits)} mutants (add nth or all)"}
            hits = []
        if not hits:
            stale.append(entry)
        for m in hits:
            matched[m.id] = entry["reason"]
    return matched, stale


def by_ids(chosen: list[Mutant], spec: str) -> list[Mutant]:
    """The mutants named by `--ids` (comma-separated, or @FILE: the first id-like word of
    each line, so an earlier run's SURVIVED lines can be fed back)."""
    if spec.startswith("@"):
        words = [w for line in Path(spec[1:]).read_text().splitlines() for w in line.split()]
    else:
        words = [w.strip() for w in spec.split(",")]
    known = {m.id: m for m in chosen}
    wanted = {w for w in words if w in known}
    unknown = [w for w in words if "__mutmut_" in w and w not in known]
    if unknown:
        sys.exit(f"--ids: no such mutant {unknown[0]!r} (the code changed since?)")
    print(f"==> --ids: {len(wanted)} mutants")
    return [m for m in chosen if m.id in wanted]


def shard(chosen: list[Mutant], spec: str) -> list[Mutant]:
    """The K-th of N contiguous slices (by id: a function's mutants stay together)."""
    match = re.fullmatch(r"(\d+)/(\d+)", spec)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        sys.exit(f"--shard {spec!r}: expected K/N with 1 <= K <= N")
    k, n = int(match[1]), int(match[2])
    part = chosen[(k - 1) * len(chosen) // n : k * len(chosen) // n]
    print(f"==> shard {k}/{n}: {len(part)} of {len(chosen)}")
    return part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/mutation", description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, help="run N mutants drawn from the full list")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--module", help="only this configured module")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--only", help="run only the mutants whose id contains this text")
    parser.add_argument(
        "--ids",
        help="run only these mutants: ids separated by commas, or @FILE with one id first on "
        "each line (e.g. the SURVIVED lines of an earlier run, to check new tests)",
    )
    parser.add_argument("--why", action="store_true", help="print how each mutant was killed")
    parser.add_argument(
        "--shard",
        help="K/N: run only the K-th of N equal slices of the selection (parallel runs; each "
        "needs its own DATABASE_URL and Redis databases); the shards' counts add up",
    )
    args, pytest_args = parser.parse_known_args(argv)

    config = load_config()
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, pytest_args, config)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


def _run(args, pytest_args: list[str], config: dict) -> int:
    mutants, files, tests = generate(config, args.module)
    equivalents, stale = match_equivalents(mutants, load_equivalents(ROOT / config["equivalents"]))
    if args.module:  # entries of the other modules' functions are not stale
        functions = {m.function for m in mutants}
        stale = [entry for entry in stale if entry["function"] in functions]
    chosen = mutants
    if args.sample is not None and args.sample < len(mutants):
        chosen = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: m.id)
    print(
        f"==> {len(mutants)} mutants in the configured modules "
        f"({', '.join(tests)}); running {len(chosen)}"
        + (f" (sample, seed {args.seed})" if chosen is not mutants else "")
    )
    if args.ids:
        chosen = by_ids(chosen, args.ids)
    if args.only:  # a look at some mutants (ids containing the text); not a score to report
        chosen = [m for m in chosen if args.only in m.id]
    if args.shard:
        chosen = shard(chosen, args.shard)
    if args.list:
        for m in chosen:
            flag = "  [equivalent]" if m.id in equivalents else ""
            print(f"{m.id}  {m.function}: {m.change}{flag}")
        return 0

    modules_run = sorted({m.module for m in chosen})
    test_files = sorted({t for name in modules_run for t in tests[name]})
    plan = {
        "files": files,
        "packages": sorted({name.split(".")[0] for name in files}),
        "timeout_factor": config.get("timeout_factor", 5.0),
        "timeout_constant": config.get("timeout_constant", 10.0),
        "results": str(WORK / "results.json"),
        "mutants": [
            {
                "id": m.id,
                "kind": m.kind,
                "name": m.extra.get("name"),
                "function_key": f"{m.extra['key']}.{m.extra.get('mangled', 'x_' + m.function)}",
                "module": m.extra["key"],
                "find": m.extra.get("find"),
                "replace": m.extra.get("replace"),
                "tests": tests[m.module],
            }
            for m in chosen
        ],
    }
    (WORK / "plan.json").write_text(json.dumps(plan, indent=1))
    (WORK / "results.json").unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.mutation.plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        "not browser and not worker",
        # A mutant's verdict is pass or fail. Drawing a failure's traceback parses the source,
        # which CPython 3.11 refuses after a mutant's RecursionError (SystemError: AST
        # constructor recursion depth mismatch) and the whole run stops; `--tb=…` overrides.
        *([] if any(a.startswith("--tb") for a in pytest_args) else ["--tb=no"]),
        *pytest_args,
        *test_files,
    ]
    print("==> " + " ".join(command[1:]))
    env = {**os.environ, "OPENCITY_MUTATION_PLAN": str(WORK / "plan.json")}
    subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
    results_path = WORK / "results.json"
    if not results_path.exists():
        print("mutation run did not finish (see the pytest output above)", file=sys.stderr)
        return 2
    results = json.loads(results_path.read_text())
    if results.get("clean_failures"):
        print("tests fail without any mutant; fix them first:", file=sys.stderr)
        for nodeid in results["clean_failures"]:
            print(f"  {nodeid}", file=sys.stderr)
        return 2
    if args.why:
        for m in chosen:
            result = results["mutants"][m.id]
            if result["killed_by"]:
                print(f"--- {m.id} killed by {result['killed_by']}\n{result['failure']}")
    return report(chosen, results["mutants"], equivalents, stale, results["baseline_seconds"])


def report(chosen, results, equivalents, stale, baseline) -> int:
    counts = {"killed": 0, "survived": 0, "timeout": 0}
    for entry in stale:
        problem = entry.get("problem", "no such mutant")
        print(f"equivalents entry not used ({problem}): {entry['function']}: {entry['change']}")
    print(f"==> clean run of the selected tests: {baseline} s")
    for m in chosen:
        status = results[m.id]["status"]
        if m.id in equivalents:
            print(f"equivalent ({status}) {m.id}  {m.function}: {m.change}  # {equivalents[m.id]}")
            continue
        if status in ("survived", "no_tests"):
            counts["survived"] += 1
            note = " (no test calls it)" if status == "no_tests" else ""
            print(f"SURVIVED{note} {m.id}  {m.function}: {m.change}")
        else:
            counts[status] += 1
    scored = sum(counts.values())
    score = (counts["killed"] + counts["timeout"]) / scored if scored else 0.0
    print(f"==> {len(chosen)} run, {len(chosen) - scored} equivalent (not scored)")
    print(
        f"mutants={scored} killed={counts['killed']} survived={counts['survived']} "
        f"timeout={counts['timeout']} score={score:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
