"""opencity/pagecache.py: single flight, personal parts, cache errors, anonymous language switch."""

from __future__ import annotations

import gzip
import re
import threading
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse

from opencity import pagecache

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_herd_of_misses_renders_the_page_once():
    renders = []
    lock = threading.Lock()

    def build() -> dict:
        with lock:
            renders.append(1)
        time.sleep(0.3)  # a slow page: the others arrive while it is being built
        return {"summaries": {}}

    statuses = []
    barrier = threading.Barrier(16)

    def visitor() -> None:
        request = RequestFactory().get("/")
        request.user = AnonymousUser()
        barrier.wait()
        response = pagecache.page(request, "home.html", key="herd-test", build=build, fresh=60)
        with lock:
            statuses.append((response.status_code, response.content))

    threads = [threading.Thread(target=visitor) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(statuses) == 16
    assert {status for status, _body in statuses} == {200}
    assert len({body for _status, body in statuses}) == 1
    assert len(renders) == 1


def test_an_invalidated_page_is_rebuilt_on_its_next_request():
    built = []

    def build() -> dict:
        built.append(1)
        return {"summaries": {}}

    def get() -> None:
        request = RequestFactory().get("/")
        request.user = AnonymousUser()
        pagecache.page(request, "home.html", key="inv-test", tags=["inv"], build=build, fresh=60)

    get()
    get()
    assert len(built) == 1  # fresh for 60 s
    pagecache.invalidate("inv")  # outside a transaction it takes effect at once
    get()
    assert len(built) == 2
    get()
    assert len(built) == 2


def test_a_cache_error_serves_the_page_uncached_and_backs_off(monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get_many", broken)
    pagecache.reset_health()
    try:
        built = []

        def build() -> dict:
            built.append(1)
            return {"summaries": {}}

        for _ in range(3):
            request = RequestFactory().get("/")
            request.user = AnonymousUser()
            response = pagecache.page(request, "home.html", key="down", build=build)
            assert response.status_code == 200
            assert response["Cache-Control"] == "private, no-cache"
        assert len(built) == 3
        assert not pagecache._cache_usable()  # the next requests skip the cache for a while
    finally:
        pagecache.reset_health()


def test_anonymous_language_switch_needs_no_token_but_a_signed_in_one_does(citizen):
    anonymous = Client(enforce_csrf_checks=True)
    response = anonymous.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["opencity_language"].value == "en"
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(citizen)
    response = signed_in.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 403
    citizen.refresh_from_db()
    assert citizen.preferred_language != "en"
    page = signed_in.get(reverse("home")).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = signed_in.post(
        reverse("set_language"),
        {"language": "en", "next": "/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.preferred_language == "en"


def test_a_personal_part_names_what_it_reads():
    from django.template import Context, Template, TemplateSyntaxError

    template = Template(
        '{% load pagecache %}{% personal "count" reads petition own %}{{ petition }}'
        "{% endpersonal %}"
    )
    node = next(n for n in template.nodelist if n.__class__.__name__ == "PersonalNode")
    assert node.name == "count" and node.reads == frozenset({"petition", "own"})
    assert template.render(Context({"petition": "п"})) == "п"
    plain = Template('{% load pagecache %}{% personal "nav" %}x{% endpersonal %}')
    assert next(n for n in plain.nodelist if n.__class__.__name__ == "PersonalNode").reads is None
    for wrong in ('"count" reads', '"count" petition', "count", '"count" uses petition'):
        with pytest.raises(TemplateSyntaxError):
            Template("{% load pagecache %}{% personal " + wrong + " %}{% endpersonal %}")


def test_the_personal_parts_are_found_through_parents_and_includes():
    """The petition page's parts: in base.html (its parent), in the page itself, and in
    _detail_body.html (a constant include); the count names what it reads."""
    holes = pagecache._find_holes(pagecache._compiled("petitions/detail.html"))
    assert set(holes) == {
        "account-nav", "messages", "petition-jump", "petition-actions", "petition-count",
        "own-signature",
    }  # fmt: skip
    assert holes["petition-count"].reads == frozenset({"petition"})
    assert holes["account-nav"].reads is None


def test_a_private_page_is_gzipped_with_padding_of_random_length_and_no_timestamp():
    page = ("<p>Петиція</p>" * 400).encode()
    lengths = []
    for _ in range(300):
        zipped = pagecache._gzip_fast(page)
        assert gzip.decompress(zipped) == page
        assert zipped[3] == gzip.FNAME and zipped[4:8] == b"\0\0\0\0"  # padding; no mtime
        lengths.append(zipped.index(b"\0", 10) - 10)
    assert min(lengths) >= 1 and max(lengths) >= 90  # 1-100 letters, as GZipMiddleware adds


def test_form_tokens_in_shared_and_reused_parts_are_this_visitors(rf):
    """A stored page's token placeholders, in a shared part and in a part taken as stored,
    become this visitor's token (one, as the form tags in their parts get); gzipped when
    asked, with its length."""
    from django.middleware.csrf import CSRF_TOKEN_LENGTH, _unmask_cipher_token

    from tests.factories import make_user

    entry = {
        "t": time.time(),
        "template": "petitions/detail.html",
        "context": {},
        "parts": [
            f"<form>{pagecache.CSRF_HOLE}</form>",
            ("petition-count", f"<i>{pagecache.CSRF_HOLE}</i>"),  # reads petition: reused
            "<p>кінець</p>",
        ],
    }
    for accept in ("", "gzip, deflate"):
        request = rf.get("/petitions/1/", HTTP_ACCEPT_ENCODING=accept)
        request.user = make_user()
        response = pagecache._personal_response(request, entry, None)
        body = response.content
        if accept:
            assert response["Content-Encoding"] == "gzip"
            assert int(response["Content-Length"]) == len(body)
            body = gzip.decompress(body)
        html = body.decode()
        tokens = re.findall(r"<form>(\w+)</form><i>(\w+)</i><p>кінець</p>$", html)
        assert tokens and tokens[0][0] == tokens[0][1]
        assert len(tokens[0][0]) == CSRF_TOKEN_LENGTH
        assert _unmask_cipher_token(tokens[0][0]) == request.META["CSRF_COOKIE"]
        assert response["Cache-Control"] == "private, no-cache"
        assert {"Accept-Encoding", "Cookie"} <= set(response["Vary"].split(", "))
