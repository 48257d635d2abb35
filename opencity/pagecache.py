"""Cached public pages: the page a surge reloads is rendered once, then served from Redis.

A view hands over what the page needs and gets a response back:

    def programme_detail(request, slug):
        return pagecache.page(
            request,
            "initiatives/programme_detail.html",
            key=f"programme:{slug}",
            tags=[f"programme:{slug}"],
            build=lambda: {...},                      # the queries: runs on a miss only
            personal=lambda request, context: {...},  # per-visitor values (signed in only)
            fresh=5,
        )

and calls `pagecache.invalidate(f"programme:{slug}")` where that content changes (it runs
on commit). How it works:

- The page is rendered once as an anonymous visitor sees it (no user, no messages) and
  kept under (key, language, path with query) with the versions of its `tags`. Parts that
  differ per visitor are marked in the templates with `{% personal "name" %}…
  {% endpersonal %}` (library `pagecache`; names unique in a page, not inside loops or
  includes with `with`). Elsewhere the tag renders its content as usual. A part marked
  `{% personal "name" reads a b %}` differs per visitor only through the values `a`, `b`:
  when `personal()` sets neither, the visitor gets the part as it was rendered for
  anonymous visitors (e.g. the count, unless the visitor's own signature is not in it).
- A visitor without a session or messages cookie gets the stored bytes (gzipped once at
  build), with a strong ETag (`If-None-Match` → 304) and `Cache-Control: public, max-age=0,
  s-maxage=<fresh>, must-revalidate`. One Redis round trip (none while the process's own
  copy is younger than LOCAL_SECONDS), no database, no template.
- FrontMiddleware (first in MIDDLEWARE) answers a plain visitor's repeat of a page this
  process served from its own copy, headers of every middleware included, before the rest
  of the stack: the same copy and the same LOCAL_SECONDS limit, answered earlier.
- A visitor with a session gets the same stored page with only the personal parts rendered
  for them, from the stored context plus `personal(request, context)` (`private, no-cache`);
  the process keeps that context for LOCAL_SECONDS too, so a signed-in reload reads Redis
  at most twice a second per process.
- A page older than `fresh` seconds is rebuilt by one request while the others are served
  the previous one (for at most STALE_GRACE_SECONDS more); a page that is missing or
  invalidated is built by one request (a lock in the cache) while the others wait for it
  (single-flight), so a herd of misses renders the page once.
- `build` may raise `NotCacheable` (e.g. a petition only its author may see): it reaches
  the view, which renders that page for the request alone. Other exceptions of `build`
  (Http404) reach the view unchanged.
- Any cache error (Redis down or slow) means the page is rendered uncached, as without this
  module. Redis errors open the process's cache circuit breaker (`opencity.cache.redis_breaker`,
  shared with sessions and rate limits): while it is open pages skip the cache, and the
  breaker's trial call tells everyone when Redis answers again. Other errors (a value that
  cannot be pickled) are logged and that page is served uncached.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template import engines
from django.template.base import Template
from django.template.context import make_context
from django.template.loader import render_to_string
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import get_language

from opencity.cache import REDIS_ERRORS, redis_breaker
from opencity.middleware import plain_user

logger = logging.getLogger(__name__)

RECORDER = "_pagecache_recorder"
HOLE_OPEN, HOLE_CLOSE = "\x00pc<", "\x00pc>"
CSRF_HOLE = "pagecache-csrf-token-hole"
_HOLE_RE = re.compile(r"\x00pc<([^\x00]+)\x00(.*?)\x00pc>", re.DOTALL)
# A stale page is still served while one request rebuilds it, up to this many seconds past
# its `fresh` time; older pages wait for the rebuild like a miss (so a slow or lost rebuild
# cannot keep a count stale for long).
STALE_GRACE_SECONDS = 2.0
# How long a miss waits for the request that builds the page before building it itself, and
# how long a build may hold the lock (a dead builder's lock expires).
WAIT_SECONDS = 3.0
LOCK_SECONDS = 3
# How long a built page stays in Redis.
KEEP_SECONDS = 60
# Each process keeps the anonymous pages it served last for this long, so a page read many
# times a second costs one Redis read per process per LOCAL_SECONDS. Other processes see an
# invalidation within this time; the process that invalidates, at once.
LOCAL_SECONDS = 0.5
LOCAL_MAX_PAGES = 500
_local: dict[str, tuple[float, tuple[str, ...], dict]] = {}
_local_lock = threading.Lock()
# The same pages as whole responses (headers of every middleware included), keyed by what
# the request says before any middleware runs: FrontMiddleware answers from here.
_front: dict[tuple, tuple[float, tuple[str, ...], dict, float, dict, bytes]] = {}
# Headers a front copy must not repeat: set per response by the server or by the 304 path.
_FRONT_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


class NotCacheable(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by `build` when this page must not be shared; it reaches the view, which
    renders the page for this request alone."""


class _BuildFailed(Exception):
    """An exception of the page itself (Http404, a template error), not of the cache."""


# --- invalidation -----------------------------------------------------------------------


def version_key(tag: str) -> str:
    """The cache key holding `tag`'s current version (changed by `invalidate`); other caches
    of data behind a tag may store it beside their value and trust the value only while
    it matches."""
    return f"pc:v:{tag}"


def invalidate(*tags: str) -> None:
    """Pages carrying any of `tags` are rebuilt on their next request. Runs when the current
    transaction commits (so a rebuild cannot read the data from before the change); a
    cache outage is logged and otherwise ignored (pages then expire within `fresh`)."""

    def bump() -> None:
        with _local_lock:
            for store in (_local, _front):  # both keep a page's tags second
                for key in [k for k, kept in store.items() if set(kept[1]) & set(tags)]:
                    store.pop(key, None)
        try:
            # Through the breaker: while Redis is away the new versions are remembered and
            # their keys deleted when it answers, so no page outlives the change.
            cache.set_many({version_key(tag): secrets.token_hex(6) for tag in tags}, None)
        except Exception as exc:
            _cache_failed(exc)

    transaction.on_commit(bump, robust=True)


def tag_versions(*tags: str) -> tuple:
    """The current versions of `tags` (None for a tag never invalidated), one cache read: a
    key part for data derived from what the tags cover (e.g. a count shared by the pages of a
    list), so that data changes with the pages. Raises on a cache error."""
    found = cache.get_many([version_key(tag) for tag in tags])
    return tuple(found.get(version_key(tag)) for tag in tags)


# --- the view helper ----------------------------------------------------------------------


def page(
    request: HttpRequest,
    template: str,
    *,
    key: str,
    build: Callable[[], dict],
    tags: Iterable[str] = (),
    personal: Callable[[HttpRequest, dict], dict] | None = None,
    fresh: float = 5.0,
) -> HttpResponse:
    """The response for a cacheable GET page (see the module docstring)."""
    tags = tuple(tags)
    if request.method not in ("GET", "HEAD") or not _cache_usable():
        return _uncached(request, template, build, personal)
    path = hashlib.sha1(request.get_full_path().encode(), usedforsecurity=False).hexdigest()
    entry_key = f"pc:{key}:{get_language()}:{path[:20]}"
    plain = _is_plain_visitor(request)
    # A signed-in visitor's copy also holds what rendering the personal parts needs.
    local_key = entry_key if plain else entry_key + ":p"
    local = _local.get(local_key)
    now = time.time()
    if local is not None and now - local[0] < LOCAL_SECONDS and now - local[2]["t"] <= fresh:
        if plain:
            return _for_front(_anonymous_response(request, local[2], fresh), local, fresh)
        return _personal_response(request, local[2], personal)
    try:
        entry, versions = _lookup(entry_key, tags, fresh, personal=not plain)
        if entry is None:
            entry = _build_once(request, template, entry_key, tags, fresh, versions, build)
        elif time.time() - entry["t"] > fresh:
            entry = _refresh(request, template, entry_key, versions, build, entry)
    except _BuildFailed as failed:
        raise failed.__cause__ from None
    except Exception as exc:  # the cache, not the page: render it without
        _cache_failed(exc)
        return _uncached(request, template, build, personal)
    local = (time.time(), tags, entry)
    current = local[0] - entry["t"] <= fresh  # a stale page served during its rebuild is not kept
    if current:
        _keep(_local, local_key, local)
    if plain:
        response = _anonymous_response(request, entry, fresh)
        return _for_front(response, local, fresh) if current else response
    return _personal_response(request, entry, personal)


def _lookup(
    entry_key: str, tags: tuple[str, ...], fresh: float, *, personal: bool = True
) -> tuple[dict | None, tuple]:
    """The stored page if its versions are current (one MGET), and the current versions.

    A page is kept as two values: what an anonymous visitor gets (the gzipped bytes, a few
    kilobytes) and what rendering the personal parts needs (the context and the page in
    parts), read only for visitors with a session."""
    keys = [entry_key, *map(version_key, tags)]
    if personal:
        keys.append(entry_key + ":p")
    found = cache.get_many(keys)
    versions = tuple(found.get(version_key(tag)) for tag in tags)
    entry = found.get(entry_key)
    if entry is not None and (
        entry["v"] != versions or time.time() - entry["t"] > fresh + STALE_GRACE_SECONDS
    ):
        entry = None
    if entry is not None and personal:
        parts = found.get(entry_key + ":p")
        if parts is None or parts["etag"] != entry["etag"]:
            return None, versions
        entry = {**entry, **parts}
    return entry, versions


def _lock(entry_key: str, versions: tuple, generation: float | None) -> str | None:
    """Take the right to build the next page after `generation` (the build time of the page
    being replaced, None for a miss) for these versions; None if another request has it.

    A lock names the page it replaces, so a successful build need not release it (one Redis
    call less on a miss): the next rebuild replaces another page and takes another lock.
    A failed build releases it; a dead builder's expires after LOCK_SECONDS."""
    digest = hashlib.sha1(repr((versions, generation)).encode(), usedforsecurity=False)
    lock_key = f"pc:lock:{entry_key}:{digest.hexdigest()[:16]}"
    return lock_key if cache.add(lock_key, 1, LOCK_SECONDS) else None


def _build_locked(request, template, entry_key, versions, build, lock_key: str) -> dict:
    try:
        return _build_and_store(request, template, entry_key, versions, build)
    except BaseException:
        cache.delete(lock_key)
        raise


def _build_once(request, template, entry_key, tags, fresh, versions, build) -> dict:
    """Single flight: the request that takes the lock builds; the others wait for it."""
    lock = _lock(entry_key, versions, None)
    if lock is not None:
        return _build_locked(request, template, entry_key, versions, build, lock)
    waited_from = time.time()
    delay = 0.005
    while time.time() - waited_from < WAIT_SECONDS:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
        entry, _versions = _lookup(entry_key, tags, fresh)
        if entry is not None:
            return entry
        lock = _lock(entry_key, versions, None)  # the builder failed or died
        if lock is not None:
            return _build_locked(request, template, entry_key, versions, build, lock)
    return _build_and_store(request, template, entry_key, versions, build)


def _refresh(request, template, entry_key, versions, build, entry) -> dict:
    """Stale but current: one request rebuilds, the others keep the stored page meanwhile."""
    lock = _lock(entry_key, versions, entry["t"])
    if lock is None:
        return entry
    return _build_locked(request, template, entry_key, versions, build, lock)


def _build_and_store(request, template, entry_key, versions, build) -> dict:
    entry = _build(request, template, build)
    entry["v"] = versions
    anonymous = {name: entry[name] for name in ("v", "t", "etag", "gzip", "csrf", "html")}
    personal = {name: entry[name] for name in ("etag", "template", "context", "parts")}
    cache.set_many({entry_key: anonymous, entry_key + ":p": personal}, KEEP_SECONDS)
    return entry


def _build(request: HttpRequest, template: str, build: Callable[[], dict]) -> dict:
    """Render the page as an anonymous visitor sees it, recording the personal parts."""
    anonymous = AnonymousUser()
    try:
        context = build()
        html = render_to_string(
            template,
            {
                **context,
                "user": anonymous,
                "perms": PermWrapper(anonymous),
                "messages": (),
                "csrf_token": CSRF_HOLE,
                RECORDER: True,
            },
            request=request,
        )
    except Exception as exc:
        raise _BuildFailed from exc
    built_at = time.time()  # after the queries: rows stamped later are not in this page
    parts: list[str | tuple[str, str]] = []
    anonymous_html = []
    position = 0
    for match in _HOLE_RE.finditer(html):
        parts.append(html[position : match.start()])
        parts.append((match.group(1), match.group(2)))  # the name, and the part as anonymous
        anonymous_html.append(html[position : match.start()])
        anonymous_html.append(match.group(2))
        position = match.end()
    parts.append(html[position:])
    anonymous_html.append(html[position:])
    body = "".join(anonymous_html)
    encoded = body.encode()
    digest = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()[:24]
    has_csrf = CSRF_HOLE in body
    return {
        "t": built_at,
        "template": template,
        "context": context,
        "parts": parts,
        "html": encoded if has_csrf else None,  # else decompressed for the rare client
        "gzip": None if has_csrf else gzip.compress(encoded, compresslevel=6, mtime=0),
        "etag": digest,
        "csrf": has_csrf,
    }


# --- the front: repeats answered before the middleware --------------------------------------


class FrontMiddleware:
    """First in MIDDLEWARE. A plain visitor (see `_is_plain_visitor`) asking again for a page
    this process served from the cache less than LOCAL_SECONDS ago gets the same response,
    headers of every middleware included, without the rest of the stack, the URL resolver
    or the view: the in-process copy `page` would have used, answered earlier. Same limits
    as that copy: never older than the page's `fresh`, dropped at once by an invalidation in
    this process and within LOCAL_SECONDS in the others; a response that sets a cookie, a
    page with a form token and every other visitor pass through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = _front_key(request)
        if key is None:
            return self.get_response(request)
        hit = _front.get(key)
        if hit is not None:
            stored_at, _tags, entry, fresh, headers, body = hit
            now = time.time()
            if now - stored_at < LOCAL_SECONDS and now - entry["t"] <= fresh:
                return _front_response(request, entry, headers, body)
        response = self.get_response(request)
        served = getattr(response, "_pagecache_front", None)
        if served is not None and response.status_code == 200 and not response.cookies:
            (stored_at, tags, entry), fresh = served
            _keep(_front, key, (stored_at, tags, entry, fresh, dict(response.items()),
                                response.content))  # fmt: skip
        return response


def _keep(store: dict, key, value: tuple) -> None:
    """Remember a page in this process (at most LOCAL_MAX_PAGES, then start afresh)."""
    with _local_lock:
        if len(store) >= LOCAL_MAX_PAGES:
            store.clear()
        store[key] = value


def _front_key(request: HttpRequest) -> tuple | None:
    """What decides a plain visitor's page, read off the request before any middleware:
    the method, scheme, host, path and query, the language cookie and gzip or not."""
    if request.method not in ("GET", "HEAD") or not _is_plain_visitor(request):
        return None
    meta = request.META
    return (
        request.method,
        request.scheme,
        meta.get("HTTP_HOST", ""),
        meta.get("HTTP_X_FORWARDED_HOST", ""),
        request.path_info,
        meta.get("QUERY_STRING", ""),
        request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME),
        "gzip" in meta.get("HTTP_ACCEPT_ENCODING", ""),
    )


def _for_front(response: HttpResponse, local: tuple, fresh: float) -> HttpResponse:
    """Mark a plain visitor's cached page for FrontMiddleware (not the 304s: their headers
    are not a page's)."""
    if response.status_code == 200 and not local[2]["csrf"]:
        response._pagecache_front = (local, fresh)
    return response


def _front_response(request: HttpRequest, entry: dict, headers: dict, body: bytes) -> HttpResponse:
    if _etag_matches(request, entry):
        response = HttpResponseNotModified()
        for name, value in headers.items():
            if name.lower() not in _FRONT_BODY_HEADERS:
                response[name] = value
        return response
    return HttpResponse(body, headers=headers)


# --- responses ------------------------------------------------------------------------------


def _is_plain_visitor(request: HttpRequest) -> bool:
    """No session and no pending messages: the visitor sees exactly the anonymous page.
    Decided from the cookies alone, so no session is loaded."""
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and "messages" not in cookies


def _anonymous_response(request: HttpRequest, entry: dict, fresh: float) -> HttpResponse:
    if entry["csrf"]:  # a page with a form for anonymous visitors: a token per visitor
        response = HttpResponse(
            entry["html"].decode().replace(CSRF_HOLE, get_token(request)),
            content_type="text/html; charset=utf-8",
        )
        response["Cache-Control"] = "private, no-cache"
        return response
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    etag = '"{}{}"'.format(entry["etag"], "-gz" if accepts_gzip else "")  # noqa: UP032
    if _etag_matches(request, entry):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(
            entry["gzip"] if accepts_gzip else gzip.decompress(entry["gzip"]),
            content_type="text/html; charset=utf-8",
        )
        if accepts_gzip:
            response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(response.content))
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age=0, s-maxage={max(1, int(fresh))}, must-revalidate"
    patch_vary_headers(response, ("Accept-Encoding", "Cookie"))
    return response


def _etag_matches(request: HttpRequest, entry: dict) -> bool:
    """The visitor already has this page (If-None-Match names it, gzipped or not)."""
    asked = request.META.get("HTTP_IF_NONE_MATCH")
    if not asked:
        return False
    wanted = {tag.removeprefix("W/") for tag in parse_etags(asked)}
    return bool(wanted & {f'"{entry["etag"]}"', f'"{entry["etag"]}-gz"', "*"})


def _personal_response(request, entry: dict, personal) -> HttpResponse:
    """The stored page with its personal parts rendered for this visitor. A part that names
    what it reads (`{% personal "name" reads … %}`) and reads nothing of this visitor's is
    taken as stored for anonymous visitors, not rendered again."""
    if request.user.is_authenticated:  # loads the user: the personal parts read it anyway
        plain_user(request)
    template = _compiled(entry["template"])
    holes = _holes(entry["template"])
    values = dict(entry["context"])
    values["pagecache_built_at"] = datetime.fromtimestamp(entry["t"], UTC)
    changed = personal(request, values) if personal is not None else {}
    values.update(changed)
    context = make_context(values, request)
    token = get_token(request)  # once, as a plain string: each tag would unwrap a lazy one
    out = []
    with context.render_context.push_state(template), context.bind_template(template):
        context["csrf_token"] = token  # over the context processor's lazy value
        for part in entry["parts"]:
            if not isinstance(part, tuple):
                out.append(part)
                continue
            node = holes[part[0]]
            if node.reads is not None and node.reads.isdisjoint(changed):
                out.append(part[1])
            else:
                out.append(node.nodelist.render(context))
    body = "".join(out)
    if CSRF_HOLE in body:
        body = body.replace(CSRF_HOLE, token)
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.content = _gzip_fast(response.content)
        response["Content-Encoding"] = "gzip"
        response["Content-Length"] = str(len(response.content))
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ("Accept-Encoding", "Cookie"))
    return response


def _gzip_fast(content: bytes) -> bytes:
    """A signed-in page, compressed per request: at level 1 (nginx's default for the same
    reason) instead of GZipMiddleware's 6, some 40 % less CPU for a page some 10 % larger;
    the pages everyone shares are compressed once, at level 6. Like GZipMiddleware, the
    header carries a file name of random length (1–100 letters) against BREACH."""
    compressed = gzip.compress(content, compresslevel=1, mtime=0)
    header = bytearray(compressed[:10])
    header[3] = gzip.FNAME
    name = secrets.token_hex(50)[: secrets.randbelow(100) + 1].encode()
    return bytes(header) + name + b"\x00" + compressed[10:]


def _uncached(request, template, build, personal) -> HttpResponse:
    """The page rendered for this request alone, exactly as without the cache."""
    values = build()
    values["pagecache_built_at"] = None
    if personal is not None and request.user.is_authenticated:
        values.update(personal(request, values))
    response = render(request, template, values)
    response["Cache-Control"] = "private, no-cache"
    return response


# --- templates ----------------------------------------------------------------------------


def _compiled(name: str) -> Template:
    return engines["django"].get_template(name).template


@lru_cache(maxsize=256)
def _holes_cached(name: str) -> dict:
    return _find_holes(_compiled(name))


def _holes(name: str) -> dict:
    return _find_holes(_compiled(name)) if settings.DEBUG else _holes_cached(name)


def _find_holes(template: Template) -> dict:
    """The personal parts of a page (their PersonalNode) by name: through its parents and
    constant includes."""
    from opencity.core.templatetags.pagecache import PersonalNode

    found: dict = {}
    seen: set[str] = set()

    def load(expression) -> None:
        name = getattr(expression, "var", None)
        if isinstance(name, str) and name not in seen:
            seen.add(name)
            walk(_compiled(name).nodelist)

    def walk(nodelist) -> None:
        for node in nodelist:
            if isinstance(node, PersonalNode):
                found.setdefault(node.name, node)
            if isinstance(node, ExtendsNode):
                load(node.parent_name)
            elif isinstance(node, IncludeNode):
                load(node.template)
            for attribute in node.child_nodelists:
                walk(getattr(node, attribute, None) or ())

    walk(template.nodelist)
    return found


# --- cache health -------------------------------------------------------------------------


def _cache_usable() -> bool:
    return redis_breaker.would_allow()


def reset_health() -> None:
    """Forget a past cache failure (tests, and after an operator restarted Redis)."""
    redis_breaker.reset()


def _cache_failed(exc: Exception) -> None:
    """Redis not answering, seen here, opens the shared breaker as if the backend had seen
    it. Any other error (a value that cannot be stored) is this page's alone: logged, and
    the page served uncached."""
    if isinstance(exc, REDIS_ERRORS):
        redis_breaker.failure(exc)
    else:
        logger.warning("page cache: %s; page served uncached", type(exc).__name__)
