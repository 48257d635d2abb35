"""Fail when a user-facing string has no Ukrainian translation.

Copies the sources to a temporary folder, runs makemessages there (so the working tree is
left alone), and reports every untranslated or fuzzy entry of every uk catalogue.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "var",
    "media",
    "staticfiles",
    "__pycache__",
    "*.mo",
    "bench",
    "tests",
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(ROOT, copy, ignore=SKIP)
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "uk", "--no-location",
             "--ignore=.venv", "--ignore=node_modules", "--ignore=tests", "-v0"],
            cwd=copy, check=True,
        )  # fmt: skip
        problems = []
        for po in sorted(copy.glob("**/locale/uk/LC_MESSAGES/*.po")):
            for flag in ("--untranslated", "--only-fuzzy"):
                out = subprocess.run(
                    ["msgattrib", flag, "--no-obsolete", "--no-wrap", str(po)],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                entries = [
                    line
                    for line in out.splitlines()
                    if line.startswith("msgid ") and line != 'msgid ""'
                ]
                problems += [f"{po.relative_to(copy)}: {flag[2:]}: {e[6:]}" for e in entries]
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} strings lack a Ukrainian translation", file=sys.stderr)
            return 1
        print("all strings translated")
        return 0


if __name__ == "__main__":
    sys.exit(main())
