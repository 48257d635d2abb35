"""The Ukrainian catalogues follow docs/glossary.md: one term per concept, plural forms for
counts, non-breaking spaces before units, proper headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.md"
CATALOGUES = sorted(
    p
    for p in ROOT.glob("**/locale/uk/LC_MESSAGES/django.po")
    if not {".venv", "node_modules"} & set(p.relative_to(ROOT).parts)
)
PROPER_NAMES = re.compile(r"Відкрит\w+ міст\w*|Е-міст\w*", re.IGNORECASE)
WORD_EDGE = r"[\w’'-]"


def _entries(path: Path) -> list[dict]:
    """(msgid, msgid_plural, [msgstr…]) of every live entry; wrapped lines joined."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#")]
        fields: dict[str, str] = {}
        key = None
        for line in lines:
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?|msgctxt) "(.*)"$', line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if "msgid" in fields:
            strs = [v for k, v in fields.items() if k.startswith("msgstr")]
            entries.append(
                {"id": fields["msgid"], "plural": "msgid_plural" in fields, "strs": strs}
            )
    return entries


def _rejected_terms() -> list[tuple[str, re.Pattern]]:
    text = GLOSSARY.read_text(encoding="utf-8").split("## Terms", 1)[1].split("\n## ", 1)[0]
    rules = []
    for row in text.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("concept", "---"):
            continue
        patterns = re.findall(r"`([^`]+)`", cells[2])
        assert patterns, f"glossary row without rejected terms: {row}"
        joined = "|".join(f"(?:{p})" for p in patterns)
        rules.append(
            (cells[1], re.compile(rf"(?<!{WORD_EDGE})(?:{joined})(?!{WORD_EDGE})", re.IGNORECASE))
        )
    return rules


def test_glossary_lists_the_terms_the_issue_names():
    uses = " ".join(use for use, _ in _rejected_terms())
    for term in ("громада", "оприлюднити", "громадський бюджет", "статус", "строк",
                 "електронна пошта", "засіб електронної ідентифікації", "прізвище та ім’я",
                 "учасник голосування", "працівники ради"):  # fmt: skip
        assert term in uses


#: %(email)s and the like are names in code, not words of the text
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_no_catalogue_uses_a_term_the_glossary_rejects():
    assert len(CATALOGUES) >= 5
    rules = _rejected_terms()
    found = []
    for path in CATALOGUES:
        for entry in _entries(path):
            if not entry["id"]:
                continue
            for text in entry["strs"]:
                plain = PLACEHOLDER.sub("", PROPER_NAMES.sub("", text))
                for use, pattern in rules:
                    match = pattern.search(plain)
                    if match:
                        found.append(
                            f"{path.relative_to(ROOT)}: «{match.group(0)}» (use «{use}») "
                            f"in {text[:90]!r}"
                        )
    assert found == [], "\n".join(found)


def test_the_glossary_check_catches_a_rejected_term():
    rules = {use.split(" ")[0]: pattern for use, pattern in _rejected_terms()}
    assert rules["оприлюднити,"].search("Петицію опубліковано.")
    assert not rules["оприлюднити,"].search("Петицію оприлюднено.")
    assert rules["статус"].search("Будь-який стан")
    assert not rules["статус"].search("станція")


COUNTED = (
    r"(?:підпис|рок|рік|голос|проєкт|петиці|місц|день|дн|людин|люд|особ|годин|сесі|учасник"
    r"|громад)\w*"
)


def test_counts_use_plural_forms():
    """A number glued to a counted noun must come from ngettext / blocktranslate count."""
    glued = re.compile(
        rf"%\(\w+\)s[\s\u00a0]+{COUNTED}|(?<!{WORD_EDGE}){COUNTED}[\s\u00a0]+%\(\w+\)s(?!\s*[:–—-])"
    )
    found = [
        f"{path.relative_to(ROOT)}: {text[:100]!r}"
        for path in CATALOGUES
        for entry in _entries(path)
        if entry["id"] and not entry["plural"]
        for text in entry["strs"]
        if glued.search(text)
    ]
    assert found == [], "\n".join(found)


def test_units_follow_numbers_after_a_non_breaking_space():
    breaking = re.compile(r"(?:%\(\w+\)s|\d) (?:грн|МБ|КБ|км|хв|год|%(?!\())(?!\w)")
    found = [
        f"{path.relative_to(ROOT)}: {text[:100]!r}"
        for path in CATALOGUES
        for entry in _entries(path)
        if entry["id"]
        for text in entry["strs"]
        if breaking.search(text)
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_catalogue_headers_name_the_project_and_the_language(path):
    header = next(e for e in _entries(path) if e["id"] == "")["strs"][0]
    assert "Language: uk\\n" in header
    assert "Project-Id-Version: OpenCity" in header
    assert "Language-Team: Ukrainian" in header
    assert "PACKAGE" not in header and "FULL NAME" not in header
    assert "nplurals=" in header


def test_wording_is_gender_neutral():
    brackets = re.compile(r"[а-яіїєґ]\(-?[а-яіїєґ]{1,3}\)")
    found = [
        f"{path.relative_to(ROOT)}: {text[:100]!r}"
        for path in CATALOGUES
        for entry in _entries(path)
        if entry["id"]
        for text in entry["strs"]
        if brackets.search(text)
    ]
    certificate = (ROOT / "academy" / "certificates.py").read_text(encoding="utf-8")
    assert found == [] and not brackets.search(certificate), "\n".join(found)
