"""Every form page, rendered in Ukrainian, shows no English label, button, legend or hint."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.academy.factories import make_expert, make_past_session, make_session, seat
from tests.factories import make_user
from tests.initiatives.factories import make_category, make_programme
from tests.petitions.factories import make_petition, make_rules

pytestmark = pytest.mark.django_db

# Names and codes that are the same in every language.
ALLOWED_LATIN = {
    "OpenCity", "BankID", "ID", "GOV", "UA", "CSV", "PDF", "XLSX", "JSON", "QR", "URL",
    "Facebook", "Telegram", "X", "OGP", "Local", "TOTP", "iCalendar", "KATOTTG", "HTML",
    "English", "https", "www", "example", "org", "Ctrl", "Mac",
    "JPEG", "PNG", "WebP", "HEIC", "GPS",  # named so in Ukrainian too
}  # fmt: skip
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")


class _VisibleTexts(HTMLParser):
    """Texts of labels, buttons, legends, summaries, help text, placeholders inside <main>."""

    TAGS = {"label", "button", "legend", "summary", "option", "th", "h1", "h2", "h3"}

    def __init__(self) -> None:
        super().__init__()
        self.in_main = False
        self.stack: list[tuple[str, bool]] = []
        self.current: list[list[str]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.in_main = True
        if not self.in_main:
            return
        for name in ("placeholder", "aria-label", "title", "value"):
            shown = name != "value" or (
                tag == "input" and attrs.get("type") in ("submit", "button")
            )
            if attrs.get(name) and shown:
                self.texts.append(attrs[name])
        if tag in ("input", "br", "img", "meta", "link", "hr", "source"):
            return
        collect = tag in self.TAGS or "helptext" in (attrs.get("class") or "")
        self.stack.append((tag, collect))
        if collect:
            self.current.append([])

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main = False
        while self.stack:
            open_tag, collected = self.stack.pop()
            if collected:
                self.texts.append(" ".join(self.current.pop()))
            if open_tag == tag:
                break

    def handle_data(self, data):
        for chunk in self.current:
            chunk.append(data.strip())


def english_words(html: str) -> list[str]:
    parser = _VisibleTexts()
    parser.feed(html)
    found = []
    for text in parser.texts:
        # E-mail addresses and code formats (ECA-XXXXX-…) are not words.
        text = re.sub(r"\S+@\S+|\b[A-Z]{3}(?:-[A-Z0-9]{5})+\b", "", text)
        words = [w for w in LATIN_WORD.findall(text) if w.strip("'’-") not in ALLOWED_LATIN]
        if words:
            found.append(f"{text.strip()[:80]!r}")
    return found


@pytest.fixture
def pages(city_a):
    """(who, path) for every page with a form; the people and objects each needs."""
    make_rules(city_a)
    citizen = make_user(full_name="Шевчук Тарас", home_city=city_a)
    submitting = make_programme(city_a, stage="submission")
    make_category(submitting)
    voting = make_programme(city_a, stage="voting")
    make_category(voting)
    session = make_session()
    past = make_past_session()
    registration = seat(past, citizen, attended=True)
    expert = make_expert(user=citizen)
    petition = make_petition(city_a)
    return citizen, [
        (None, "/accounts/login/"),
        (None, "/accounts/signup/"),
        (None, "/accounts/password/reset/"),
        (None, "/petitions/"),
        (None, f"/petitions/{petition.pk}/"),
        (None, "/initiatives/"),
        (None, "/cities/"),
        (None, "/academy/"),
        (None, "/academy/certificates/"),
        (None, "/academy/experts/"),
        (citizen, "/accounts/profile/"),
        (citizen, "/accounts/email/"),
        (citizen, "/accounts/password/change/"),
        (citizen, "/petitions/new/"),
        (citizen, f"/petitions/{petition.pk}/"),
        (citizen, f"/initiatives/{submitting.slug}/submit/"),
        (citizen, f"/initiatives/{voting.slug}/ballot/"),
        (citizen, "/cities/join/"),
        (citizen, f"/academy/sessions/{session.pk}/"),
        (citizen, f"/academy/registrations/{registration.pk}/feedback/"),
        (citizen, f"/academy/experts/{expert.slug}/edit/"),
    ]


def test_no_form_page_shows_english_labels_or_buttons_in_ukrainian(pages):
    citizen, visits = pages
    problems = []
    for who, path in visits:
        client = Client()
        if who:
            client.force_login(who)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Language"] == "uk"
        for text in english_words(response.content.decode()):
            problems.append(f"{path}: {text}")
    assert problems == [], "\n".join(problems)


def test_the_checker_finds_an_english_label():
    html = '<main><form><label for="e">Email:</label><button>Зберегти</button></form></main>'
    assert english_words(html) == ["'Email:'"]
