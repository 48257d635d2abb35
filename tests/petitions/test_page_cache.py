"""The petition page under a surge: cached for everyone, exact for the signer, never a 500."""

from __future__ import annotations

import gzip
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from opencity import pagecache
from petitions import conf, services
from petitions.models import Petition
from tests.petitions.factories import make_petition, make_rules, sign_many

Status = Petition.Status
pytestmark = pytest.mark.django_db


def shown_count(response) -> int:
    body = response.content
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    match = re.search(r"data-count>([^<]+)<", body.decode())
    assert match, "the page shows no count"
    return int(re.sub(r"\D", "", match.group(1)))


@pytest.fixture
def petition(city_a):
    make_rules(city_a, threshold=1000)
    petition = make_petition(city_a, threshold=1000)
    sign_many(petition, 3)
    services.petition_tally(petition_id=petition.pk)
    return petition


def test_count_is_cached_within_the_window_and_exact_after_it(petition, monkeypatch):
    # A long window first (this machine may be slow), then the real one.
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    anonymous = Client()
    url = petition.get_absolute_url()
    assert shown_count(anonymous.get(url)) == 3
    sign_many(petition, 2)
    services.petition_tally(petition_id=petition.pk)
    assert shown_count(anonymous.get(url)) == 3  # served from the cache
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 1)
    time.sleep(1.1)
    assert shown_count(anonymous.get(url)) == 5  # this request rebuilt it
    assert shown_count(anonymous.get(url)) == 5


def test_a_new_signature_is_shown_to_its_signer_at_once(petition, citizen, client, monkeypatch):
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    anonymous = Client()
    assert shown_count(anonymous.get(url)) == 3  # cached: 3
    client.force_login(citizen)
    response = client.post(reverse("petitions:sign", args=[petition.pk]))
    assert response.status_code == 302
    # The tally has not run (it is queued on commit); everyone else still sees 3.
    assert Petition.objects.get(pk=petition.pk).signature_count == 3
    assert shown_count(anonymous.get(url)) == 3
    page = client.get(url)
    assert shown_count(page) == 4
    assert 'class="messages"' in page.content.decode()  # "your signature is recorded"
    assert 'class="messages"' not in anonymous.get(url).content.decode()
    signatories = page.content.decode().split('id="signatories-heading"')[1]
    assert citizen.full_name in signatories
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' not in page.content.decode()
    # Once the tally counted it, the signer is not counted twice.
    services.petition_tally(petition_id=petition.pk)
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 1)
    time.sleep(1.1)
    assert shown_count(anonymous.get(url)) == 4  # rebuilt from the tally
    page = client.get(url)
    assert shown_count(page) == 4
    signatories = page.content.decode().split('id="signatories-heading"')[1]
    assert signatories.count(citizen.full_name) == 1  # once, from the database now


def test_signed_in_visitors_get_their_own_part_of_the_cached_page(
    petition, citizen, client, monkeypatch
):
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    anonymous = Client().get(url).content.decode()
    assert reverse("account_login") in anonymous
    assert "csrfmiddlewaretoken" not in anonymous  # the same bytes for every anonymous visitor
    client.force_login(citizen)
    mine = client.get(url).content.decode()
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' in mine
    assert "csrfmiddlewaretoken" in mine
    assert citizen.get_short_name() in mine
    assert Client().get(url).content.decode() == anonymous


def test_the_count_is_rendered_again_only_for_a_signer_the_count_does_not_hold_yet(
    petition, citizen, client, monkeypatch
):
    """`{% personal "petition-count" reads petition %}`: a signed-in reader whose own values
    leave the petition alone gets the count part as stored for everyone; a fresh signer's
    count is rendered for them with their signature in it."""
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    Client().get(url)  # built and stored
    client.force_login(citizen)
    reader = client.get(url)
    assert shown_count(reader) == 3
    assert "petitions/_progress.html" not in [t.name for t in reader.templates]
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' in reader.content.decode()
    client.post(reverse("petitions:sign", args=[petition.pk]))
    signer = client.get(url)
    assert shown_count(signer) == 4
    assert "petitions/_progress.html" in [t.name for t in signer.templates]
    assert shown_count(Client().get(url)) == 3  # everyone else: the stored part


def test_a_signed_in_page_is_gzipped_fast_with_random_padding(petition, citizen, client):
    """Compressed once per request at level 1 (not again by GZipMiddleware), padded with a
    random file name against BREACH, and decompresses to the page a client without gzip gets."""
    url = petition.get_absolute_url()
    client.force_login(citizen)
    plain = client.get(url)
    assert "Content-Encoding" not in plain
    assert "accept-encoding" in plain["Vary"].lower()
    responses = [client.get(url, HTTP_ACCEPT_ENCODING="gzip, br") for _ in range(12)]
    zipped = responses[0]
    assert zipped["Content-Encoding"] == "gzip"
    assert int(zipped["Content-Length"]) == len(zipped.content) < len(plain.content) / 2
    assert {"accept-encoding", "cookie"} <= {v.strip().lower() for v in zipped["Vary"].split(",")}
    assert zipped["Cache-Control"] == "private, no-cache"

    page = gzip.decompress(zipped.content).decode()  # CRC and length checked
    assert citizen.get_short_name() in page and "csrfmiddlewaretoken" in page
    assert tokens_out(page) == tokens_out(plain.content.decode())
    assert all(r.content[3] & 0x08 for r in responses)  # FNAME: the padding
    assert len({r.content.index(b"\x00", 10) for r in responses}) > 1  # of random length


def tokens_out(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "TOKEN", html)


def test_a_signed_in_visitor_gets_the_page_django_would_render_for_them(
    petition, citizen, client, monkeypatch
):
    """The stored page with their parts filled in is, byte for byte (form tokens aside),
    the page rendered for them without the cache; with the language cookie set, so the user
    is loaded first by the page's personal parts."""
    from opencity.notifications import services as notifications

    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    notifications.follow(citizen, petition)
    url = petition.get_absolute_url()
    Client().get(url)  # stored by an anonymous visitor first
    client.force_login(citizen)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "uk"
    cached = client.get(url)
    assert cached["Cache-Control"] == "private, no-cache"
    assert type(cached.wsgi_request.user).__name__ == "User"  # no lazy wrapper left
    monkeypatch.setattr(pagecache, "_cache_usable", lambda: False)
    rendered = client.get(url)
    assert "Не стежити" in cached.content.decode()  # Unfollow: their part is in
    assert tokens_out(cached.content.decode()) == tokens_out(rendered.content.decode())


def test_a_page_first_built_for_a_signed_in_follower_shows_anonymous_visitors_nothing_of_theirs(
    petition, citizen, client, monkeypatch
):
    """The page is rendered once as an anonymous visitor sees it, whoever asked first: a
    follower's Unfollow button (and its form token) stay theirs, and anonymous visitors get
    the shared gzipped bytes with an ETag."""
    from opencity.notifications import services as notifications

    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    notifications.follow(citizen, petition)
    client.force_login(citizen)
    url = petition.get_absolute_url()
    mine = client.get(url).content.decode()  # a miss: this request builds the page
    assert "Не стежити" in mine  # Unfollow
    response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip" and response.has_header("ETag")
    anonymous = gzip.decompress(response.content).decode()
    assert "follow-form" not in anonymous and "csrfmiddlewaretoken" not in anonymous
    assert citizen.get_short_name() not in anonymous


def read_tables(queries) -> list[str]:
    found = (re.search(r'FROM "?(\w+)', q["sql"]) for q in queries.captured_queries)
    return [match.group(1) for match in found if match]


def test_a_citizen_s_own_part_costs_two_queries_and_staff_still_see_their_links(
    petition, citizen, client, moderator_a, monkeypatch
):
    """Under a surge a signed-in reload reads: the person; and their signature, follow,
    ledger receipt and confirmed address in one query. No staff-role or group lookups for
    someone who is not staff."""
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    Client().get(url)  # the page is cached
    client.force_login(citizen)
    client.get(url)  # the session is cached
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    tables = read_tables(queries)
    # read_tables names a query by its first FROM: the state query's is its signature subquery.
    assert sorted(tables) == ["accounts_user", "petitions_signature"], tables
    state = next(q["sql"] for q in queries.captured_queries if "petitions_signature" in q["sql"])
    assert all(t in state for t in ("notifications_follow", "ledger_entry", "account_emailaddress"))
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' in page
    assert 'name="notify_on_answer"' in page  # "e-mail me the council's response"
    assert "For city staff" not in page and "Для працівників міста" not in page
    services.petition_sign(petition=petition.pk, user=citizen)
    # Without a worker (tasks run eagerly here) the first visit appends the pending receipt.
    assert "ledger-receipt" in client.get(url).content.decode()
    with CaptureQueriesContext(connection) as queries:
        signed = client.get(url).content.decode()
    assert "ledger-receipt" in signed and "<code>" in signed  # the receipt code
    tables = read_tables(queries)
    assert sorted(tables) == ["accounts_user", "petitions_signature"], tables
    assert "account_emailaddress" not in tables and "cities_staffrole" not in tables, tables
    assert "auth_group" not in tables, tables
    staff = Client()
    staff.force_login(moderator_a)
    staff_page = staff.get(url).content.decode()
    assert reverse("admin:petitions_petition_change", args=[petition.pk]) in staff_page
    assert reverse("admin:petitions_petition_change", args=[petition.pk]) not in signed


def test_matching_etag_answers_304_and_a_new_count_a_new_etag(petition, monkeypatch):
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    anonymous = Client()
    first = anonymous.get(url)
    etag = first["ETag"]
    assert "public" in first["Cache-Control"] and "must-revalidate" in first["Cache-Control"]
    again = anonymous.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    sign_many(petition, 1)
    services.petition_tally(petition_id=petition.pk)
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 1)
    time.sleep(1.1)
    changed = anonymous.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_the_cached_page_is_gzipped_once_and_decompresses_to_the_page(petition, monkeypatch):
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    url = petition.get_absolute_url()
    plain = Client().get(url)
    packed = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert packed["ETag"] != plain["ETag"]


def test_close_and_response_invalidate_the_page_at_once(
    petition, moderator_a, django_capture_on_commit_callbacks
):
    url = petition.get_absolute_url()
    anonymous = Client()
    assert "petition-response" not in anonymous.get(url).content.decode()
    Petition.objects.filter(pk=petition.pk).update(status=Status.REACHED)
    with django_capture_on_commit_callbacks(execute=True):
        services.petition_respond(
            petition=Petition.objects.get(pk=petition.pk),
            actor=moderator_a,
            decision=Petition.Decision.SUPPORTED,
            text="Рада ухвалила рішення облаштувати велодоріжку.",
        )
    page = anonymous.get(url).content.decode()
    assert "Рада ухвалила рішення облаштувати велодоріжку." in page


def test_closing_invalidates_the_page_and_the_list(city_a, django_capture_on_commit_callbacks):
    make_rules(city_a, threshold=1000)
    petition = make_petition(city_a, threshold=1000, title="Петиція, що закривається")
    anonymous = Client()
    url = petition.get_absolute_url()
    sign_button = f'class="btn btn-primary" href="{reverse("account_login")}?next='
    assert sign_button in anonymous.get(url).content.decode()
    assert petition.title in anonymous.get(reverse("petitions:list")).content.decode()
    Petition.objects.filter(pk=petition.pk).update(
        collection_ends_at=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.close_expired() == 1
    assert sign_button not in anonymous.get(url).content.decode()
    listed = anonymous.get(reverse("petitions:list"), HTTP_ACCEPT_ENCODING="identity")
    assert listed.status_code == 200


def test_a_programme_edit_invalidates_its_page(city_a, django_capture_on_commit_callbacks):
    from tests.initiatives.factories import make_programme

    programme = make_programme(city_a)
    url = reverse("initiatives:programme", args=[programme.slug])
    anonymous = Client()
    assert programme.title in anonymous.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        programme.title = "Громадський бюджет: нова назва"
        programme.save()
    assert "Громадський бюджет: нова назва" in anonymous.get(url).content.decode()


def test_signatories_are_paged_by_keyset_newest_first_without_offset(petition):
    extra = sign_many(petition, conf.SIGNATORIES_PER_PAGE + 7)
    url = petition.get_absolute_url()
    first = Client().get(url).content.decode()
    names = re.findall(r"<li>([^<]+) <span class=\"meta\">", first)
    assert len(names) == conf.SIGNATORIES_PER_PAGE
    assert names[0].strip() == extra[-1].full_name  # newest first
    older = re.search(r'href="\?older=([0-9.]+)#', first).group(1)
    with CaptureQueriesContext(connection) as queries:
        second = Client().get(url, {"older": older}).content.decode()
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    rest = re.findall(r"<li>([^<]+) <span class=\"meta\">", second)
    assert len(rest) == 3 + len(extra) - conf.SIGNATORIES_PER_PAGE
    assert not set(names) & set(rest)
    assert 'href="?older=' not in second
    assert Client().get(url, {"older": "garbage"}).status_code == 200


def test_pages_are_served_without_redis(petition, citizen):
    dead = {
        "default": {
            "BACKEND": "opencity.cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens here
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    pagecache.reset_health()
    try:
        with override_settings(
            CACHES=dict(dead), SESSION_ENGINE="django.contrib.sessions.backends.db"
        ):
            anonymous = Client()
            for url in (
                petition.get_absolute_url(),
                reverse("petitions:list"),
                reverse("home"),
                reverse("initiatives:index"),
            ):
                response = anonymous.get(url)
                assert response.status_code == 200, url
            assert shown_count(anonymous.get(petition.get_absolute_url())) == 3
            signed_in = Client()
            signed_in.force_login(citizen)
            assert signed_in.get(petition.get_absolute_url()).status_code == 200
    finally:
        pagecache.reset_health()


def test_a_petition_only_its_author_may_see_is_never_cached(city_a, client):
    draft = make_petition(city_a, status=Status.SUBMITTED, title="Ще на модерації: лавки")
    client.force_login(draft.author)
    assert "Ще на модерації" in client.get(draft.get_absolute_url()).content.decode()
    assert Client().get(draft.get_absolute_url()).status_code == 404


@pytest.fixture
def resolved(monkeypatch):
    """Counts the requests that reached the URL resolver (and so the view)."""
    from django.urls.resolvers import URLResolver

    calls = []
    original = URLResolver.resolve

    def resolve(self, path):
        if path.startswith("/"):  # the root resolver, not the included ones
            calls.append(path)
        return original(self, path)

    monkeypatch.setattr(URLResolver, "resolve", resolve)
    return calls


def test_a_repeat_within_half_a_second_is_answered_before_the_view_with_the_same_headers(
    petition, monkeypatch, resolved
):
    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 30)  # this machine may be slow
    url = petition.get_absolute_url()
    anonymous = Client(HTTP_ACCEPT_ENCODING="gzip")
    first = anonymous.get(url)
    assert len(resolved) == 1
    again = anonymous.get(url)
    assert len(resolved) == 1  # answered by pagecache.FrontMiddleware
    assert again.status_code == 200 and again.content == first.content
    assert dict(again.items()) == dict(first.items())
    for header in ("Content-Security-Policy", "X-Frame-Options", "ETag", "Vary"):
        assert again[header] == first[header]
    assert again["Content-Encoding"] == "gzip"
    assert shown_count(again) == 3
    not_modified = anonymous.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert len(resolved) == 1
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == first["ETag"]
    assert not_modified["Content-Security-Policy"] == first["Content-Security-Policy"]
    assert "Content-Encoding" not in not_modified and "Content-Length" not in not_modified
    # Without gzip, in English, or over another host: another page, through the view.
    plain = Client().get(url)
    assert len(resolved) == 2 and "Content-Encoding" not in plain
    assert shown_count(plain) == 3
    english = Client(HTTP_ACCEPT_ENCODING="gzip")
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert '<html lang="en">' in gzip.decompress(english.get(url).content).decode()
    assert len(resolved) == 3


def test_the_front_copy_is_dropped_by_a_change_and_after_half_a_second(
    petition, monkeypatch, resolved, django_capture_on_commit_callbacks
):
    from petitions import pages

    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 30)
    url = petition.get_absolute_url()
    anonymous = Client()
    anonymous.get(url)
    anonymous.get(url)
    assert len(resolved) == 1
    with django_capture_on_commit_callbacks(execute=True):
        Petition.objects.filter(pk=petition.pk).update(title="Нова назва петиції")
        pages.petition_changed(petition.pk)
    assert "Нова назва петиції" in anonymous.get(url).content.decode()
    assert len(resolved) == 2
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 0.2)
    time.sleep(0.25)
    anonymous.get(url)
    assert len(resolved) == 3  # the process's copy is too old: Redis is asked again


def test_a_signed_in_reload_reuses_the_process_copy_until_a_change_or_half_a_second(
    petition, citizen, client, monkeypatch, django_capture_on_commit_callbacks
):
    """The stored context a signed-in page is rendered from is kept in the process like the
    anonymous page: no Redis read for the page on a reload within LOCAL_SECONDS, dropped at
    once by a change made in this process, asked again once older."""
    from petitions import pages

    monkeypatch.setattr(conf, "COUNT_REFRESH_SECONDS", 60)
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 30)
    client.force_login(citizen)
    url = petition.get_absolute_url()
    client.get(url)
    reads = []
    real = pagecache.cache.get_many

    def counted(keys, *args, **kwargs):
        reads.extend(key for key in keys if key.startswith("pc:petition:"))
        return real(keys, *args, **kwargs)

    monkeypatch.setattr(pagecache.cache, "get_many", counted)
    page = client.get(url).content.decode()
    assert reads == [] and citizen.get_short_name() in page
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' in page
    with django_capture_on_commit_callbacks(execute=True):
        Petition.objects.filter(pk=petition.pk).update(title="Нова назва петиції")
        pages.petition_changed(petition.pk)
    assert "Нова назва петиції" in client.get(url).content.decode()
    assert reads  # the change dropped the copy: the page came from Redis (rebuilt)
    reads.clear()
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 0.2)
    time.sleep(0.25)
    client.get(url)
    assert reads  # too old: Redis is asked again


def test_visitors_with_a_session_or_a_message_always_reach_the_view(
    petition, citizen, client, monkeypatch, resolved
):
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 30)
    url = petition.get_absolute_url()
    Client().get(url)
    Client().get(url)
    assert len(resolved) == 1
    client.force_login(citizen)
    page = client.get(url)
    assert len(resolved) == 2
    assert f'action="{reverse("petitions:sign", args=[petition.pk])}"' in page.content.decode()
    with_message = Client()
    with_message.cookies["messages"] = "anything"
    with_message.get(url)
    assert len(resolved) == 3


def test_a_response_that_sets_a_cookie_is_not_kept_at_the_front(rf, monkeypatch):
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 30)
    calls = []

    def view(request):
        calls.append(1)
        response = pagecache.page(
            request, "home.html", key="front-cookie", build=lambda: {"summaries": {}}, fresh=60
        )
        response.set_cookie("seen", "1")
        return response

    front = pagecache.FrontMiddleware(view)
    for _ in range(2):
        request = rf.get("/")
        assert front(request).status_code == 200
    assert len(calls) == 2
