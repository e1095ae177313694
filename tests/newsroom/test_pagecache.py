"""The anonymous page cache: hits, what is never cached, invalidation, 304s."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Summary
from comments.models import Comment
from newsroom.pagecache import ENTRY_PREFIX, GENERATION_KEY, _address, _entry_key, page_cache
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

    pages = page_cache()
    for name in ("get", "get_many", "set", "add", "incr", "has_key"):
        monkeypatch.setattr(pages, name, spying(name, getattr(pages, name)))
    monkeypatch.setattr(pagecache, "get_many", spying("pagecache.get_many", pagecache.get_many))
    assert client.get("/")["X-Page-Cache"] == "hit"
    assert calls == ["pagecache.get_many(3 keys)"]  # global generation, page generation, entry: one MGET


def test_the_cached_page_is_stored_as_bytes_and_headers_not_a_response(client, published_article):
    client.get("/")
    entry = page_cache().get(_entry_key(_address(RequestFactory().get("/")), "identity"))
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
    page_cache().clear()
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
    generation = page_cache().get(GENERATION_KEY)
    # Without executing the on-commit callbacks (as if the transaction rolled back)...
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.make_published_article()
    assert callbacks, "the invalidation waits for the commit"
    assert page_cache().get(GENERATION_KEY) == generation


def test_an_evicted_generation_counter_never_revives_old_pages(
    client, published_article, django_capture_on_commit_callbacks
):
    client.get("/")
    page_cache().delete(GENERATION_KEY)
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
    down = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    broken = {"default": down, "pages": down}
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


# --- One page, one entry (issue #13) ------------------------------------------------------


def stored_pages() -> int:
    """How many pages the pages cache holds right now (each is one entry per encoding)."""
    pages = page_cache()
    if isinstance(pages, RedisCache):
        keys = [key.decode() for key in pages._cache.get_client().scan_iter(match=f"*{ENTRY_PREFIX}*")]
    else:
        keys = [key for key in pages._cache if ENTRY_PREFIX in key]
    per_coding = {
        coding: sum(key.endswith(f":{coding}") for key in keys) for coding in ("identity", "gzip", "br")
    }
    assert len(set(per_coding.values())) == 1, per_coding  # every page in every encoding
    return per_coding["identity"]


@pytest.fixture
def two_pages_of_cards(db):
    source = factories.make_source()
    for _ in range(21):
        factories.make_published_article(source=source)
    return source


def test_parameters_a_view_does_not_read_are_answered_with_the_canonical_page(client, published_article):
    url = published_article.get_absolute_url()
    assert client.get(url)["X-Page-Cache"] == "miss"
    assert client.get("/")["X-Page-Cache"] == "miss"
    for junk in ("utm_source=news&utm_medium=social", "fbclid=IwAR0x", "x=1", "page=2", "q=model"):
        assert client.get(f"{url}?{junk}")["X-Page-Cache"] == "hit"
    for junk in ("utm_source=news", "x=1&y=2", "q=model"):
        assert client.get(f"/?{junk}")["X-Page-Cache"] == "hit"
    assert stored_pages() == 2


def test_a_first_visit_with_a_tracking_parameter_stores_the_canonical_page(client, published_article):
    url = published_article.get_absolute_url()
    assert client.get(f"{url}?utm_source=mail")["X-Page-Cache"] == "miss"
    assert client.get(url)["X-Page-Cache"] == "hit"
    assert stored_pages() == 1


@pytest.mark.parametrize("page", ["999", "3", "abc", "1", "01", "02", "", "-1", "2.0", "0", "2 "])
def test_a_page_number_that_does_not_name_the_page_shown_is_answered_but_not_stored(
    client, two_pages_of_cards, page
):
    response = client.get("/", {"page": page})
    assert response.status_code == 200
    assert "X-Page-Cache" not in response
    assert client.get("/", {"page": page}).get("X-Page-Cache") is None
    assert stored_pages() == 0


def test_each_real_page_of_a_listing_is_stored_once_under_its_own_number(client, two_pages_of_cards):
    assert "Page 2 of 2" in client.get("/?page=999").content.decode()  # clamped, as before
    for path in ("/", "/?page=2", f"/sources/{two_pages_of_cards.slug}/?page=2"):
        assert client.get(path)["X-Page-Cache"] == "miss"
        assert client.get(path)["X-Page-Cache"] == "hit"
    assert client.get("/?page=2&utm_source=x")["X-Page-Cache"] == "hit"
    assert client.get("/?page=1&page=2")["X-Page-Cache"] == "hit"  # the view reads the last one
    assert stored_pages() == 3


def test_search_words_are_stored_once_in_the_form_search_reads_them(client, published_article):
    assert client.get("/search/?q=model")["X-Page-Cache"] == "miss"
    for spelling in ("/search/?q=model&x=1", "/search/?q=model&utm_source=x"):
        assert client.get(spelling)["X-Page-Cache"] == "hit"
    for spelling in ("/search/?q=+model", "/search/?q=model++", "/search/?q="):
        assert client.get(spelling).get("X-Page-Cache") is None
    assert client.get("/search/?q=two+words")["X-Page-Cache"] == "miss"
    assert client.get("/search/?q=two++words").get("X-Page-Cache") is None
    assert stored_pages() == 2


def test_a_free_text_parameter_stores_at_most_the_variant_budget_of_one_path(
    client, published_article, settings
):
    settings.PAGE_CACHE_MAX_VARIANTS = 5
    for n in range(12):
        client.get(f"/search/?q=word{n}")
    assert stored_pages() == 5
    assert client.get("/search/?q=word0")["X-Page-Cache"] == "hit"
    assert client.get("/search/?q=word11").get("X-Page-Cache") is None  # answered, not stored
    assert client.get("/")["X-Page-Cache"] == "miss"  # other paths keep their own budget
    assert client.get("/")["X-Page-Cache"] == "hit"


def test_a_view_that_does_not_declare_its_parameters_is_never_stored_with_a_query_string(
    client, published_article
):
    # Django's sitemap view reads ?p=: serving /sitemap.xml for ?p=2 would be wrong.
    for path in ("/sitemap.xml?p=1", "/sitemap.xml?p=01", "/sitemap.xml?x=1"):
        assert client.get(path).status_code == 200
        assert client.get(path).get("X-Page-Cache") is None
    assert client.get("/sitemap.xml")["X-Page-Cache"] == "miss"
    assert stored_pages() == 1


@pytest.mark.parametrize(
    "host", ["testserver:1", "testserver:8080", "TESTSERVER", "testserver.", "a.example.com"]
)
def test_other_spellings_of_a_host_and_wildcard_subdomains_are_not_stored(
    client, published_article, settings, host
):
    settings.ALLOWED_HOSTS = ["testserver", ".example.com"]
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 200
    assert client.get("/", headers={"Host": host}).get("X-Page-Cache") is None
    assert stored_pages() == 0
    assert client.get("/", headers={"Host": "testserver"})["X-Page-Cache"] == "miss"
    assert client.get("/", headers={"Host": "testserver:80"})["X-Page-Cache"] == "miss"


def test_a_source_reached_by_its_id_is_answered_but_only_its_own_address_is_stored(client, published_article):
    source = published_article.source
    for alias in (f"/sources/{source.pk}/", f"/sources/00{source.pk}/"):
        assert client.get(alias).status_code == 200
        assert client.get(alias).get("X-Page-Cache") is None
    assert client.get(source.get_absolute_url())["X-Page-Cache"] == "miss"
    assert stored_pages() == 1


def test_filling_the_pages_cache_evicts_nothing_from_the_default_cache(settings):
    from django.core.cache import cache, caches

    assert caches["pages"] is not caches["default"]
    cache.set("ratelimit:probe", 7, timeout=60)
    pages = page_cache()
    bound = settings.CACHES["pages"].get("OPTIONS", {}).get("MAX_ENTRIES", 300)
    pages.set_many({f"pagecache:filler:{n}": b"x" * 100 for n in range(bound + 50)}, timeout=60)
    assert cache.get("ratelimit:probe") == 7


def test_a_flood_of_junk_gets_evicts_neither_rate_limits_nor_cached_pages(
    client, published_article, settings, eager_celery, monkeypatch
):
    """Issue #13's sample, as a class: 310 junk GETs once reset the comment limit from 429."""
    settings.COMMENT_RATE_LIMIT_USER = "5/m,50/d"
    # One fixed-window minute for the whole test: a window that rolls over mid-flood would
    # reset the limit legitimately.
    frozen = time.time()
    monkeypatch.setattr("comments.ratelimit.time", SimpleNamespace(time=lambda: frozen))
    settings.NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR = 3
    commenter = Client()
    commenter.force_login(factories.make_commenter(email="busy@example.com"))
    post = reverse("comments:post", args=[published_article.pk])
    statuses = [commenter.post(post, {"body": f"Comment {n}"}).status_code for n in range(6)]
    assert statuses[-1] == 429
    subscriber = Client()
    assert [subscriber.post("/newsletter/subscribe/", {}).status_code for _ in range(4)][-1] == 429

    url = published_article.get_absolute_url()
    for path in (url, "/"):
        client.get(path)
    for n in range(320):
        junk = (f"{url}?utm_source={n}", f"/?fbclid={n}", f"/?page={n}", f"/search/?q=model&x={n}")[n % 4]
        assert client.get(junk).status_code == 200
    for n in range(30):
        client.get("/", headers={"Host": f"testserver:{1000 + n}"})

    assert commenter.post(post, {"body": "Still too fast"}).status_code == 429
    assert subscriber.post("/newsletter/subscribe/", {}).status_code == 429
    assert client.get(url)["X-Page-Cache"] == "hit"
    assert client.get("/")["X-Page-Cache"] == "hit"
    assert stored_pages() <= 3  # the article, the home page, and one search


def test_a_host_outside_allowed_hosts_is_never_answered_from_the_cache(client, published_article):
    assert client.get("/")["X-Page-Cache"] == "miss"
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "evil.example:80"}).status_code == 400


def test_behind_a_proxy_the_forwarded_host_is_the_one_checked(client, published_article, settings):
    settings.USE_X_FORWARDED_HOST = True
    forwarded = {"Host": "internal:8000", "X-Forwarded-Host": "testserver:1"}
    assert client.get("/", headers=forwarded).get("X-Page-Cache") is None
    assert client.get("/", headers={**forwarded, "X-Forwarded-Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={**forwarded, "X-Forwarded-Host": "testserver"})["X-Page-Cache"] == "miss"
    assert stored_pages() == 1
