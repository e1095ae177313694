"""The poll pipeline end to end over real loopback HTTP: fetch → parse → dedupe → store,
scheduling, back-off, pausing, redirects and failure classes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from articles.ingest import polling
from articles.ingest.parse import ParsedEntry, ParsedFeed
from articles.models import Article, AuditEntry, FetchAttempt, Source
from tests import factories
from tests.articles.ingest.test_parse import EXPECTED_ENTRIES, REAL_FEEDS, XXE
from tests.fakes.feed_server import Route, fixtures_dir, rss

FIXTURES = fixtures_dir()
needs_fixtures = pytest.mark.skipif(
    FIXTURES is None, reason="shared fixtures folder ../shared/fixtures is absent"
)
pytestmark = pytest.mark.django_db


def source_for(server, path: str, **fields) -> Source:
    return factories.make_source(feed_url=server.url(path), **fields)


def items(n: int, *, prefix: str = "story", minutes_apart: int = 60) -> list[tuple[str, str]]:
    return [(f"Story {i}", f"https://news.example.org/{prefix}-{i}") for i in range(n)]


# --- Storing entries --------------------------------------------------------------------------


@needs_fixtures
def test_polling_a_fixture_feed_stores_each_entry_as_a_new_article(feed_server):
    feed_server.routes["/tc"] = Route(body=(FIXTURES / "feeds" / "feedjira--TechCrunch.xml").read_bytes())
    source = source_for(feed_server, "/tc")
    result = polling.source_poll(source=source)
    assert (result.outcome, result.new, result.duplicate) == ("ok", 20, 0)
    articles = Article.objects.filter(source=source)
    assert articles.count() == 20
    assert set(articles.values_list("status", flat=True)) == {Article.Status.NEW}
    assert all(a.title and a.url.startswith("http") and a.feed_summary for a in articles)
    attempt = FetchAttempt.objects.get(source=source)
    assert (attempt.outcome, attempt.http_status, attempt.entries_found, attempt.entries_new) == (
        "ok",
        200,
        20,
        20,
    )


@needs_fixtures
def test_every_real_fixture_feed_is_stored_through_the_full_path(feed_server):
    for name in REAL_FEEDS:
        feed_server.routes[f"/{name}"] = Route(body=(FIXTURES / "feeds" / name).read_bytes())
        source = source_for(feed_server, f"/{name}")
        result = polling.source_poll(source=source)
        assert result.outcome == "ok", (name, result.error)
        assert result.new + result.duplicate == EXPECTED_ENTRIES[name], name


@needs_fixtures
def test_repolling_uses_304_where_the_server_supports_it_and_adds_nothing(feed_server):
    body = (FIXTURES / "feeds" / "feedjira--RSSWithComments.xml").read_bytes()
    feed_server.routes["/hn"] = Route(body=body, etag='"abc"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    source = source_for(feed_server, "/hn")
    assert polling.source_poll(source=source).new == 30
    again = polling.source_poll(source=source)
    assert (again.outcome, again.new, again.http_status) == ("not-modified", 0, 304)
    assert feed_server.hits_for("/hn")[1].headers["if-none-match"] == '"abc"'
    assert Article.objects.count() == 30


def test_repolling_a_server_without_validators_finds_only_duplicates(feed_server):
    feed_server.routes["/feed"] = Route(body=rss(items(5)))
    source = source_for(feed_server, "/feed")
    polling.source_poll(source=source)
    again = polling.source_poll(source=source)
    assert (again.outcome, again.new, again.duplicate) == ("ok", 0, 5)


def test_tracking_parameters_and_fragments_do_not_make_a_new_article(feed_server):
    feed_server.routes["/a"] = Route(
        body=rss([("Story", "https://News.Example.org/story?id=7&utm_source=x#top")])
    )
    feed_server.routes["/b"] = Route(
        body=rss([("Same story", "https://news.example.org/story?fbclid=abc&id=7&gclid=1&ref=hn")])
    )
    polling.source_poll(source=source_for(feed_server, "/a"))
    other = polling.source_poll(source=source_for(feed_server, "/b"))
    assert (other.new, other.duplicate) == (0, 1)
    assert list(Article.objects.values_list("url", flat=True)) == ["https://news.example.org/story?id=7"]


def test_the_same_guid_in_one_source_is_one_article_even_if_its_link_changes(feed_server):
    first = b'<rss version="2.0"><channel><title>t</title><item><title>A</title><guid>g-1</guid><link>https://x.org/a</link></item></channel></rss>'
    feed_server.routes["/feed"] = Route(body=first)
    source = source_for(feed_server, "/feed")
    polling.source_poll(source=source)
    feed_server.routes["/feed"] = Route(body=first.replace(b"https://x.org/a", b"https://x.org/a-renamed"))
    again = polling.source_poll(source=source)
    assert (again.new, again.duplicate) == (0, 1)


def test_dedupe_runs_in_bulk_with_a_bounded_number_of_queries(django_assert_max_num_queries):
    source = factories.make_source()
    entries = [ParsedEntry(title=f"T{i}", link=f"https://x.org/{i}", guid=f"g{i}") for i in range(200)]
    feed = ParsedFeed(entries=entries)
    with django_assert_max_num_queries(6):
        ids, dupes = polling.entries_store(source=source, feed=feed, base_url="https://x.org/feed")
    assert (len(ids), dupes) == (200, 0)
    with django_assert_max_num_queries(2):
        ids, dupes = polling.entries_store(source=source, feed=feed, base_url="https://x.org/feed")
    assert (len(ids), dupes) == (0, 200)


def test_entries_without_a_date_get_the_fetch_time_and_future_dates_are_clamped():
    source = factories.make_source()
    now = timezone.now()
    feed = ParsedFeed(
        entries=[
            ParsedEntry(title="Undated", link="https://x.org/u"),
            ParsedEntry(title="Future", link="https://x.org/f", published=now + timedelta(days=3)),
        ]
    )
    polling.entries_store(source=source, feed=feed, base_url="https://x.org/feed", now=now)
    assert set(Article.objects.values_list("published_at", flat=True)) == {now}


def test_new_articles_inherit_the_source_topics():
    topic = factories.make_topic("AI")
    source = factories.make_source()
    source.topics.add(topic)
    feed = ParsedFeed(entries=[ParsedEntry(title="A", link="https://x.org/a")])
    polling.entries_store(source=source, feed=feed, base_url="https://x.org/feed")
    assert list(Article.objects.get().topics.all()) == [topic]


def test_relative_entry_links_are_resolved_against_the_feed(feed_server):
    body = b'<rss version="2.0"><channel><title>t</title><item><title>A</title><link>/posts/a</link></item></channel></rss>'
    feed_server.routes["/blog/feed"] = Route(body=body)
    polling.source_poll(source=source_for(feed_server, "/blog/feed"))
    assert Article.objects.get().url == feed_server.url("/posts/a")


# --- Failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route, error_class",
    [
        (
            Route(body=b"<!DOCTYPE html><html><body>Hello</body></html>", content_type="text/html"),
            "not-a-feed",
        ),
        (Route(body=b""), "not-a-feed"),
        (Route(body=XXE), "unsafe-xml"),
        (Route(body=b"\xff\xfe\x00\x01 garbage"), "not-a-feed"),
        (Route(endless=True), "too-large"),
        (Route(status=404, body=b"gone"), "http-error"),
        (Route(status=429, headers={"Retry-After": "3600"}), "rate-limited"),
    ],
    ids=["html", "empty", "xxe", "binary", "endless", "404", "429"],
)
def test_each_hostile_or_broken_feed_ends_as_a_failed_attempt_with_its_class(
    feed_server, settings, route, error_class
):
    settings.FETCH_MAX_BYTES = 1024 * 1024
    feed_server.routes["/feed"] = route
    source = source_for(feed_server, "/feed")
    result = polling.source_poll(source=source)
    assert (result.outcome, result.error_class) == ("failed", error_class)
    source.refresh_from_db()
    assert (source.consecutive_failures, source.last_error_class, source.last_status) == (
        1,
        error_class,
        "failed",
    )
    assert FetchAttempt.objects.get(source=source).error_class == error_class


def test_a_slow_feed_times_out_as_a_failed_attempt(feed_server, settings):
    settings.FETCH_TIMEOUT_SECONDS = 0.3
    feed_server.routes["/feed"] = Route(body=rss(items(1)), delay=2)
    assert polling.source_poll(source=source_for(feed_server, "/feed")).error_class == "timeout"


def test_a_source_on_a_private_address_is_blocked(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    source = factories.make_source(feed_url="http://127.0.0.1:9/feed")
    assert polling.source_poll(source=source).error_class == "blocked"


def test_rate_limiting_pushes_the_next_poll_past_retry_after(feed_server):
    feed_server.routes["/feed"] = Route(status=429, headers={"Retry-After": "7200"})
    source = source_for(feed_server, "/feed")
    now = timezone.now()
    polling.source_poll(source=source, now=now)
    source.refresh_from_db()
    assert source.next_poll_at >= now + timedelta(seconds=7200)


def test_failures_back_off_exponentially_then_pause_the_source_with_an_alert(feed_server, settings):
    settings.SOURCE_PAUSE_AFTER_FAILURES = 4
    settings.SOURCE_MIN_POLL_SECONDS = 300
    feed_server.routes["/feed"] = Route(
        body=b"<html><body>not a feed</body></html>", content_type="text/html"
    )
    source = source_for(feed_server, "/feed")
    delays = []
    for _ in range(4):
        now = timezone.now()
        polling.source_poll(source=source, now=now)
        source.refresh_from_db()
        delays.append(round((source.next_poll_at - now).total_seconds()))
    assert delays == [300, 600, 1200, 2400]
    assert source.paused_at is not None and "not-a-feed" in source.pause_reason
    assert (
        AuditEntry.objects.filter(action="source-paused", target_id=str(source.pk), automatic=True).count()
        == 1
    )
    assert source not in Source.objects.due(timezone.now() + timedelta(days=2))


def poll_in_turn(feed_server, source: Source, answers: str) -> list[bool]:
    """Poll once per letter: "g" serves a good feed, "b" a broken one. Returns, after each
    poll, whether the source is paused."""
    paused = []
    for answer in answers:
        feed_server.routes["/feed"] = (
            Route(body=rss(items(2))) if answer == "g" else Route(body=b"<html><body>oops</body></html>")
        )
        polling.source_poll(source=Source.objects.get(pk=source.pk))
        source.refresh_from_db()
        paused.append(source.paused_at is not None)
    return paused


def test_a_source_failing_every_other_poll_is_paused_once_half_its_recent_polls_failed(feed_server, settings):
    settings.SOURCE_PAUSE_AFTER_FAILURES = 3
    source = source_for(feed_server, "/feed")
    assert poll_in_turn(feed_server, source, "bgbgb") == [False, False, False, False, True]
    assert source.pause_reason.startswith("Paused after 3 failed polls out of the last 5; last: not-a-feed")
    assert (
        AuditEntry.objects.filter(action="source-paused", target_id=str(source.pk), automatic=True).count()
        == 1
    )


def test_failures_rarer_than_half_of_the_recent_polls_never_pause_a_source(feed_server, settings):
    settings.SOURCE_PAUSE_AFTER_FAILURES = 3
    source = source_for(feed_server, "/feed")
    assert not any(poll_in_turn(feed_server, source, "bggbggbggbgg"))


def test_a_resumed_source_starts_its_failure_window_afresh(feed_server, settings, editor):
    from articles.ingest.sources import source_resume

    settings.SOURCE_PAUSE_AFTER_FAILURES = 3
    source = source_for(feed_server, "/feed")
    assert poll_in_turn(feed_server, source, "bgbgb")[-1]
    source_resume(source=source, actor=editor)
    assert poll_in_turn(feed_server, source, "bgb") == [False, False, False]


def test_a_feed_built_to_make_the_parser_backtrack_is_one_quick_failed_poll(feed_server):
    feed_server.routes["/feed"] = Route(body=b"<!--a-->" * 24 + b"<x/>")
    source = source_for(feed_server, "/feed")
    started = time.monotonic()
    result = polling.source_poll(source=source)
    assert time.monotonic() - started < 1
    assert (result.outcome, result.error_class) == ("failed", "not-a-feed")


def test_back_off_is_capped_at_a_day():
    assert polling.backoff_delay(30) == 24 * 3600


def test_a_success_resets_the_failure_count(feed_server):
    feed_server.routes["/feed"] = Route(status=500)
    source = source_for(feed_server, "/feed")
    polling.source_poll(source=source)
    feed_server.routes["/feed"] = Route(body=rss(items(2)))
    polling.source_poll(source=source)
    source.refresh_from_db()
    assert (source.consecutive_failures, source.last_error_class, source.last_status) == (0, "", "ok")


def test_one_broken_source_does_not_harm_the_next_one(feed_server):
    feed_server.routes["/bad"] = Route(body=XXE)
    feed_server.routes["/good"] = Route(body=rss(items(3)))
    bad = polling.source_poll(source=source_for(feed_server, "/bad"))
    good = polling.source_poll(source=source_for(feed_server, "/good"))
    assert (bad.outcome, good.outcome, good.new) == ("failed", "ok", 3)


# --- Scheduling ---------------------------------------------------------------------------------


def test_the_interval_adapts_to_how_often_the_feed_publishes():
    now = timezone.now()
    every = lambda minutes: [  # noqa: E731
        ParsedEntry(title="t", link="l", published=now - timedelta(minutes=minutes * i)) for i in range(10)
    ]
    assert polling.publishing_interval(every(10), current=3600) == 300  # floor: 5 minutes
    assert polling.publishing_interval(every(120), current=3600) == 3600  # half the gap
    assert polling.publishing_interval(every(60 * 24 * 7), current=3600) == 24 * 3600  # ceiling: a day
    assert polling.publishing_interval([], current=1800) == 1800


def test_the_next_poll_is_the_latest_of_interval_ttl_retry_after_max_age_and_expires():
    import httpx

    now = timezone.now()
    assert polling.next_poll_delay(interval=300, ttl_minutes=60, now=now) == 3600
    assert polling.next_poll_delay(interval=300, retry_after=900, now=now) == 900
    headers = httpx.Headers({"Cache-Control": "public, max-age=1800"})
    assert polling.next_poll_delay(interval=300, headers=headers, now=now) == 1800
    expires = (now + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert (
        abs(
            polling.next_poll_delay(interval=300, headers=httpx.Headers({"Expires": expires}), now=now) - 7200
        )
        <= 1
    )
    far = httpx.Headers({"Cache-Control": "max-age=99999999"})
    assert polling.next_poll_delay(interval=300, headers=far, now=now) == 24 * 3600


def test_a_polled_source_is_scheduled_by_its_feed_ttl(feed_server):
    feed_server.routes["/feed"] = Route(body=rss(items(2), extra="<ttl>180</ttl>"))
    source = source_for(feed_server, "/feed")
    now = timezone.now()
    polling.source_poll(source=source, now=now)
    source.refresh_from_db()
    assert source.next_poll_at == now + timedelta(minutes=180)


def test_claiming_due_sources_hands_each_out_once():
    due = factories.make_source(next_poll_at=timezone.now() - timedelta(minutes=1))
    factories.make_source(next_poll_at=timezone.now() + timedelta(hours=1))
    factories.make_source(paused_at=timezone.now())
    assert polling.sources_claim_due() == [due.pk]
    assert polling.sources_claim_due() == []


# --- Redirects ----------------------------------------------------------------------------------


def test_a_permanent_redirect_seen_on_three_polls_moves_the_feed_url(feed_server, settings):
    settings.SOURCE_REDIRECT_CONFIRMATIONS = 3
    feed_server.routes["/old"] = Route(status=301, location="/new")
    feed_server.routes["/new"] = Route(body=rss(items(1)))
    source = source_for(feed_server, "/old")
    for poll in range(3):
        polling.source_poll(source=source)
        source.refresh_from_db()
        if poll < 2:
            assert source.feed_url == feed_server.url("/old") and source.redirect_streak == poll + 1
    assert source.feed_url == feed_server.url("/new")
    assert AuditEntry.objects.filter(action="source-moved").count() == 1


def test_a_temporary_redirect_never_moves_the_feed_url(feed_server, settings):
    settings.SOURCE_REDIRECT_CONFIRMATIONS = 2
    feed_server.routes["/old"] = Route(status=302, location="/new")
    feed_server.routes["/new"] = Route(body=rss(items(1)))
    source = source_for(feed_server, "/old")
    for _ in range(3):
        polling.source_poll(source=source)
    source.refresh_from_db()
    assert source.feed_url == feed_server.url("/old") and source.redirect_streak == 0


def test_a_url_inserted_by_someone_else_meanwhile_is_counted_as_a_duplicate(monkeypatch):
    source = factories.make_source()
    feed = ParsedFeed(entries=[ParsedEntry(title=f"T{i}", link=f"https://x.org/{i}") for i in range(3)])
    # Another poll stored entry 1 after our dedupe query ran (which therefore saw nothing).
    factories.make_article(url="https://x.org/1")
    monkeypatch.setattr(polling, "_known_keys", lambda **kwargs: (set(), set()))
    ids, dupes = polling.entries_store(source=source, feed=feed, base_url="https://x.org/feed")
    assert (len(ids), dupes) == (2, 1)
    assert Article.objects.filter(source=source).count() == 2


# --- Writing back: only the fetch state, never over the desk's changes ---------------------------


def test_a_poll_does_not_undo_what_the_desk_changed_while_it_fetched(feed_server):
    feed_server.routes["/feed"] = Route(body=rss(items(2)))
    source = source_for(feed_server, "/feed", auto_publish=True)
    stale = Source.objects.get(pk=source.pk)  # what the poll read before its fetch
    paused_at = timezone.now()
    Source.objects.filter(pk=source.pk).update(
        paused_at=paused_at, pause_reason="Checking", is_active=False, auto_publish=False, name="Renamed"
    )
    assert polling.source_poll(source=stale).outcome == "ok"
    source.refresh_from_db()
    assert (source.paused_at, source.pause_reason) == (paused_at, "Checking")
    assert (source.is_active, source.auto_publish, source.name) == (False, False, "Renamed")
    assert (source.last_status, source.consecutive_failures) == ("ok", 0)


def test_an_automatic_pause_never_replaces_an_editors_pause(feed_server, settings, editor):
    from articles.ingest.sources import source_pause

    settings.SOURCE_PAUSE_AFTER_FAILURES = 2
    feed_server.routes["/feed"] = Route(status=500)
    source = source_for(feed_server, "/feed", consecutive_failures=1)
    stale = Source.objects.get(pk=source.pk)
    source_pause(source=source, reason="Moving to their new feed.", actor=editor)
    polling.source_poll(source=stale)
    source.refresh_from_db()
    assert (source.pause_reason, source.consecutive_failures) == ("Moving to their new feed.", 2)
    pauses = AuditEntry.objects.filter(action="source-paused", target_id=str(source.pk))
    assert list(pauses.values_list("automatic", flat=True)) == [False]


def test_a_failure_counts_on_from_the_stored_count_not_the_polls_copy(feed_server):
    feed_server.routes["/feed"] = Route(status=500)
    source = source_for(feed_server, "/feed", consecutive_failures=5)
    stale = Source.objects.get(pk=source.pk)
    Source.objects.filter(pk=source.pk).update(consecutive_failures=0)  # a resume meanwhile
    polling.source_poll(source=stale)
    source.refresh_from_db()
    assert source.consecutive_failures == 1


def test_a_source_deleted_during_its_poll_stays_deleted(feed_server):
    feed_server.routes["/feed"] = Route(status=500)
    source = source_for(feed_server, "/feed")
    stale = Source.objects.get(pk=source.pk)
    source.delete()
    assert polling.source_poll(source=stale).outcome == "failed"
    assert not Source.objects.filter(pk=stale.pk).exists()
    assert not FetchAttempt.objects.exists()


def test_a_confirmed_redirect_does_not_move_a_feed_url_the_desk_changed_meanwhile(feed_server, settings):
    settings.SOURCE_REDIRECT_CONFIRMATIONS = 1
    feed_server.routes["/old"] = Route(status=301, location="/new")
    feed_server.routes["/new"] = Route(body=rss(items(1)))
    source = source_for(feed_server, "/old")
    stale = Source.objects.get(pk=source.pk)
    Source.objects.filter(pk=source.pk).update(feed_url="https://elsewhere.example.org/feed")
    polling.source_poll(source=stale)
    source.refresh_from_db()
    assert source.feed_url == "https://elsewhere.example.org/feed"
    assert not AuditEntry.objects.filter(action="source-moved").exists()
