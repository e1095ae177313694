"""The anonymous page cache: hits, what is never cached, invalidation, 304s."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from articles.models import Summary
from comments.models import Comment
from newsroom.pagecache import GENERATION_KEY, _entry_key
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_second_anonymous_get_is_served_from_the_cache_without_sql(client, published_article):
    first = client.get("/")
    assert first["X-Page-Cache"] == "miss"
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/")
    assert second["X-Page-Cache"] == "hit"
    assert len(queries) == 0
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert "script-src 'self'" in second["Content-Security-Policy"]


def test_a_cache_hit_is_one_round_trip_to_the_cache(client, published_article, monkeypatch):
    from newsroom import pagecache

    client.get("/")
    calls: list[str] = []
    depth = [0]

    def spying(name, original):
        def spy(*args, **kwargs):
            # Count only top-level calls: locmem's get_many loops over get().
            if depth[0] == 0:
                calls.append(
                    name if name != "pagecache.get_many" else f"pagecache.get_many({len(args[0])} keys)"
                )
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        return spy

    for name in ("get", "get_many", "set", "add", "incr", "has_key"):
        monkeypatch.setattr(cache, name, spying(name, getattr(cache, name)))
    monkeypatch.setattr(pagecache, "get_many", spying("pagecache.get_many", pagecache.get_many))
    assert client.get("/")["X-Page-Cache"] == "hit"
    assert calls == ["pagecache.get_many(3 keys)"]  # global generation, page generation, entry: one MGET


def test_the_cached_page_is_stored_as_bytes_and_headers_not_a_response(client, published_article):
    client.get("/")
    entry = cache.get(_entry_key(RequestFactory().get("/")))
    assert isinstance(entry["body"], bytes) and published_article.title.encode() in entry["body"]
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in entry["headers"])


def test_logged_in_readers_are_never_served_or_stored_from_the_cache(client, published_article, reader):
    client.get("/")
    client.force_login(reader)
    response = client.get("/")
    assert "X-Page-Cache" not in response
    assert "Log out" in response.content.decode()
    client.logout()
    anonymous = client.get("/")
    assert "Log out" not in anonymous.content.decode()


def test_a_page_that_sets_a_cookie_is_not_stored(client, db):
    # The login page renders a CSRF token and sets the CSRF cookie: it must never be shared.
    first = client.get("/accounts/login/")
    assert first.status_code == 200
    with override_settings(PAGE_CACHE_EXCLUDE_PREFIXES=[]):
        client.cookies.clear()
        client.get("/accounts/login/")
        response = client.get("/accounts/login/")
    assert response.get("X-Page-Cache") != "hit"


def test_cached_pages_carry_no_csrf_token_nonce_or_user_data(client, published_article):
    client.get(published_article.get_absolute_url())
    response = client.get(published_article.get_absolute_url())
    assert response["X-Page-Cache"] == "hit"
    html = response.content.decode()
    assert "csrfmiddlewaretoken" not in html and "nonce" not in html
    assert "Set-Cookie" not in str(response.serialize_headers())


def test_publishing_an_article_invalidates_cached_pages(
    client, published_article, editor, django_capture_on_commit_callbacks
):
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):
        newer = factories.make_published_article(title="Fresh ferry timetable")
    response = client.get("/")
    assert response["X-Page-Cache"] == "miss"
    assert newer.title in response.content.decode()


def test_editing_a_summary_invalidates_the_article_page(
    client, published_article, editor, django_capture_on_commit_callbacks
):
    url = published_article.get_absolute_url()
    client.get(url)
    fields = factories.summary_fields(kind="editor", producer="Erin", key_takeaway="A corrected takeaway.")
    with django_capture_on_commit_callbacks(execute=True):
        published_article.publish(Summary.create_version(article=published_article, **fields), by=editor)
    assert "A corrected takeaway." in client.get(url).content.decode()


def test_a_new_comment_invalidates_its_article_page_and_nothing_else(
    client, published_article, reader, django_capture_on_commit_callbacks
):
    other = factories.make_published_article(title="A quieter story")
    url = published_article.get_absolute_url()
    for path in (url, other.get_absolute_url(), "/"):
        client.get(path)
    with django_capture_on_commit_callbacks(execute=True):
        Comment.objects.create(
            article=published_article, author=reader, body="First!", body_html="<p>First!</p>"
        )

    response = client.get(url)
    assert response["X-Page-Cache"] == "miss"
    assert "First!" in response.content.decode()
    # A busy discussion must not flush the whole site: other pages stay cached, and the
    # listing's comment count catches up when its copy expires (PAGE_CACHE_SECONDS).
    assert client.get(other.get_absolute_url())["X-Page-Cache"] == "hit"
    assert client.get("/")["X-Page-Cache"] == "hit"
    cache.clear()
    assert "1 comment" in client.get("/").content.decode()


def test_writes_to_unpublished_articles_leave_the_cache_alone(
    client, published_article, django_capture_on_commit_callbacks
):
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        draft = factories.make_article(title="Still being summarised")
        Summary.create_version(article=draft, **factories.summary_fields())
    assert callbacks == []
    assert client.get("/")["X-Page-Cache"] == "hit"


def test_a_rolled_back_change_does_not_invalidate(
    client, published_article, django_capture_on_commit_callbacks
):
    client.get("/")
    generation = cache.get(GENERATION_KEY)
    # Without executing the on-commit callbacks (as if the transaction rolled back)...
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.make_published_article()
    assert callbacks, "the invalidation waits for the commit"
    assert cache.get(GENERATION_KEY) == generation


def test_an_evicted_generation_counter_never_revives_old_pages(
    client, published_article, django_capture_on_commit_callbacks
):
    client.get("/")
    cache.delete(GENERATION_KEY)
    assert client.get("/")["X-Page-Cache"] == "miss"


@pytest.mark.parametrize("cached", [False, True])
def test_conditional_gets_are_answered_with_304(client, published_article, cached):
    url = published_article.get_absolute_url()
    first = client.get(url)
    if cached:
        assert client.get(url)["X-Page-Cache"] == "hit"
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_uncached_anonymous_pages_also_answer_304(client, published_article):
    with override_settings(PAGE_CACHE_SECONDS=0):
        first = client.get("/")
        assert "X-Page-Cache" not in first
        assert client.get("/", headers={"If-None-Match": first["ETag"]}).status_code == 304


def test_head_requests_get_headers_without_a_body_from_the_cache(client, published_article):
    body = client.get("/").content
    response = client.head("/")
    assert response["X-Page-Cache"] == "hit"
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(len(body))


def test_a_cache_outage_serves_pages_uncached(client, published_article):
    broken = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    with override_settings(CACHES=broken):
        response = client.get("/")
    assert response.status_code == 200
    assert published_article.title in response.content.decode()


def test_query_strings_are_cached_separately(client):
    source = factories.make_source()
    for _ in range(21):
        factories.make_published_article(source=source)
    assert "Page 1 of 2" in client.get("/").content.decode()
    assert "Page 2 of 2" in client.get("/?page=2").content.decode()
    assert "Page 1 of 2" in client.get("/").content.decode()


def test_a_cache_hit_is_answered_before_any_other_middleware_runs(client, published_article, monkeypatch):
    from django.utils.deprecation import MiddlewareMixin
    from whitenoise.middleware import WhiteNoiseMiddleware

    ran: list[str] = []

    def spying(original):
        def spy(self, request):
            ran.append(type(self).__name__)
            return original(self, request)

        return spy

    for cls in (MiddlewareMixin, WhiteNoiseMiddleware):
        monkeypatch.setattr(cls, "__call__", spying(cls.__call__))
    assert client.get("/")["X-Page-Cache"] == "miss"
    assert {"SecurityMiddleware", "WhiteNoiseMiddleware", "SessionMiddleware"} <= set(ran)
    ran.clear()
    assert client.get("/")["X-Page-Cache"] == "hit"
    assert ran == []  # no security, static files, session, CSRF or auth work on a hit


def test_error_pages_are_not_cached(client, db):
    assert client.get("/a/coming-soon/").status_code == 404
    # No invalidation runs here (on_commit never fires inside the test's transaction), so
    # only a 404 that was never stored lets the new article through.
    article = factories.make_published_article(title="Coming soon")
    assert article.slug == "coming-soon"
    assert client.get("/a/coming-soon/").status_code == 200
    assert client.get("/a/nothing-here/").get("X-Page-Cache") is None
