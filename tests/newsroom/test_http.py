"""The guarded fetcher against a real loopback server: SSRF guard, limits, politeness."""

from __future__ import annotations

import threading
import time

import pytest

from newsroom import http as fetch
from tests.fakes.feed_server import FeedServer, Route, rss

FEED = rss([("One", "https://example.org/1")])


# --- The address guard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://localhost/feed",
        "http://2130706433/feed",  # decimal
        "http://0x7f000001/feed",  # hex
        "http://0177.0.0.1/feed",  # octal
        "http://127.1/feed",  # short form
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",  # IPv4-mapped IPv6
        "http://[::ffff:7f00:1]/feed",
        "http://10.0.0.8/feed",
        "http://192.168.1.1/feed",
        "http://172.16.0.1/feed",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata, link-local
        "http://100.64.0.1/feed",  # carrier-grade NAT
        "http://224.0.0.1/feed",  # multicast
        "http://240.0.0.1/feed",  # reserved
        "http://0.0.0.0/feed",
        "file:///etc/passwd",
        "ftp://example.org/feed",
        "gopher://example.org/",
        "http://user:pw@example.org/feed",
    ],
)
def test_private_addresses_odd_spellings_and_other_schemes_are_refused(url, settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(fetch.BlockedURL):
        fetch.check_url_allowed(url)


def test_public_addresses_pass_the_guard():
    assert fetch.is_public_address("93.184.215.14")
    assert fetch.is_public_address("2606:4700::6810:84e5")
    assert not fetch.is_public_address("::ffff:10.1.2.3")


def test_fetching_loopback_is_refused_unless_the_host_is_opened(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with FeedServer() as server:
        server.routes["/feed"] = Route(body=FEED)
        with pytest.raises(fetch.BlockedURL):
            fetch.fetch(server.url("/feed"))
        assert server.hits == []
        settings.FETCH_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
        assert fetch.fetch(server.url("/feed")).content == FEED


def test_the_transport_itself_refuses_a_private_peer_without_any_pre_check(settings):
    # A client from make_guarded_client used directly (as the newsletter code will) never
    # calls check_url_allowed; the connection-level guard must still hold.
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with FeedServer() as server:
        server.routes["/feed"] = Route(body=FEED)
        with fetch.make_guarded_client() as client, pytest.raises(fetch.BlockedURL):
            client.get(server.url("/feed"))
        assert server.hits == []


def test_a_redirect_to_a_host_that_is_not_opened_is_refused(feed_server, settings):
    feed_server.routes["/feed"] = Route(status=302, location=feed_server.url("/real", host="localhost"))
    feed_server.routes["/real"] = Route(body=FEED)
    with pytest.raises(fetch.BlockedURL):
        fetch.fetch(feed_server.url("/feed"))
    assert feed_server.hits_for("/real") == []
    # The guarded client following redirects on its own is checked on every hop too.
    with fetch.make_guarded_client(follow_redirects=True) as client, pytest.raises(fetch.BlockedURL):
        client.get(feed_server.url("/feed"))
    assert feed_server.hits_for("/real") == []


def test_a_redirect_to_another_scheme_is_refused(feed_server):
    feed_server.routes["/feed"] = Route(status=301, location="file:///etc/passwd")
    with pytest.raises(fetch.BlockedURL):
        fetch.fetch(feed_server.url("/feed"))


# --- Protocol behaviour -----------------------------------------------------------------------


def test_the_request_carries_our_user_agent_and_asks_for_gzip(feed_server, settings):
    feed_server.routes["/feed"] = Route(body=FEED, gzip=True)
    result = fetch.fetch(feed_server.url("/feed"))
    assert result.content == FEED  # decompressed
    hit = feed_server.hits_for("/feed")[0]
    assert hit.headers["user-agent"] == settings.FETCH_USER_AGENT
    assert settings.SITE_URL in hit.headers["user-agent"]
    assert "gzip" in hit.headers["accept-encoding"]


def test_conditional_get_sends_validators_and_treats_304_as_no_change(feed_server):
    feed_server.routes["/feed"] = Route(body=FEED, etag='"v1"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    first = fetch.fetch(feed_server.url("/feed"))
    assert first.headers["etag"] == '"v1"'
    second = fetch.fetch(
        feed_server.url("/feed"), etag=first.headers["etag"], last_modified=first.headers["last-modified"]
    )
    assert second.not_modified and second.status == 304 and second.content == b""
    assert feed_server.hits_for("/feed")[1].headers["if-none-match"] == '"v1"'


def test_five_redirects_are_followed_and_a_sixth_is_refused(feed_server):
    for i in range(6):
        feed_server.routes[f"/r{i}"] = Route(status=301, location=f"/r{i + 1}")
    feed_server.routes["/r6"] = Route(body=FEED)
    ok = fetch.fetch(feed_server.url("/r1"))
    assert ok.content == FEED and ok.permanent_redirect == feed_server.url("/r6")
    with pytest.raises(fetch.TooManyRedirects):
        fetch.fetch(feed_server.url("/r0"))


def test_a_temporary_redirect_is_not_reported_as_permanent(feed_server):
    feed_server.routes["/a"] = Route(status=301, location="/b")
    feed_server.routes["/b"] = Route(status=302, location="/c")
    feed_server.routes["/c"] = Route(body=FEED)
    assert fetch.fetch(feed_server.url("/a")).permanent_redirect == ""


def test_429_reports_retry_after_in_seconds(feed_server):
    feed_server.routes["/feed"] = Route(status=429, headers={"Retry-After": "120"})
    with pytest.raises(fetch.RateLimited) as caught:
        fetch.fetch(feed_server.url("/feed"))
    assert caught.value.retry_after == 120 and caught.value.error_class == "rate-limited"


def test_retry_after_may_be_an_http_date():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert fetch.parse_retry_after("Tue, 24 Nov 2026 10:05:00 GMT", now=now) == 300
    assert fetch.parse_retry_after("soon") is None


def test_server_errors_are_http_errors_with_the_status(feed_server):
    feed_server.routes["/feed"] = Route(status=500, body=b"oops")
    with pytest.raises(fetch.HTTPError) as caught:
        fetch.fetch(feed_server.url("/feed"))
    assert caught.value.status == 500 and caught.value.error_class == "http-error"


# --- Hostile servers --------------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_reading(feed_server, settings):
    settings.FETCH_MAX_BYTES = 1000
    feed_server.routes["/feed"] = Route(body=b"x" * 5000)
    with pytest.raises(fetch.TooLarge):
        fetch.fetch(feed_server.url("/feed"))


def test_an_endless_body_is_cut_off_at_the_size_cap(feed_server, settings):
    settings.FETCH_MAX_BYTES = 2 * 1024 * 1024
    feed_server.routes["/feed"] = Route(endless=True)
    started = time.monotonic()
    with pytest.raises(fetch.TooLarge):
        fetch.fetch(feed_server.url("/feed"))
    assert time.monotonic() - started < 5


def test_a_gzip_bomb_is_measured_after_decompression(feed_server, settings):
    settings.FETCH_MAX_BYTES = 1024 * 1024
    feed_server.routes["/feed"] = Route(body=b"\0" * (50 * 1024 * 1024), gzip=True)  # ~50 KB on the wire
    with pytest.raises(fetch.TooLarge):
        fetch.fetch(feed_server.url("/feed"))


def test_a_server_that_never_answers_times_out(feed_server, settings):
    settings.FETCH_TIMEOUT_SECONDS = 0.5
    feed_server.routes["/feed"] = Route(body=FEED, delay=3)
    started = time.monotonic()
    with pytest.raises(fetch.FetchTimeout):
        fetch.fetch(feed_server.url("/feed"))
    assert time.monotonic() - started < 2.5


def test_a_byte_a_second_server_hits_the_total_deadline(feed_server, settings):
    settings.FETCH_TOTAL_TIMEOUT_SECONDS = 1.0
    feed_server.routes["/feed"] = Route(body=b"x" * 200, drip_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(fetch.FetchTimeout):
        fetch.fetch(feed_server.url("/feed"))
    assert time.monotonic() - started < 4


def test_no_more_than_the_per_host_limit_of_requests_run_at_once(feed_server, settings):
    settings.FETCH_PER_HOST_CONCURRENCY = 2
    feed_server.routes["/slow"] = Route(body=FEED, delay=0.3)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            fetch.fetch(feed_server.url("/slow"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(feed_server.hits_for("/slow")) == 6
    assert 1 <= feed_server.max_active <= 2  # never more than the limit on one host
