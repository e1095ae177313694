"""newsroom/websub.py: finding a feed's hub, push signatures, and POSTs to a hub (the loopback hub)."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from newsroom import websub
from tests.fakes.feed_server import fixtures_dir

FEED = "https://example.org/feed.xml"


def test_an_atom_feed_names_its_hub_and_self():
    content = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<link rel="self" href="https://example.org/atom"/><link href="https://hub.example/" rel="hub"/>'
        b"<entry><link rel='self' href='https://example.org/entry/1'/></entry></feed>"
    )
    links = websub.discover(content=content, headers=httpx.Headers(), url=FEED)
    assert links == websub.HubLinks(hub="https://hub.example/", topic="https://example.org/atom")


def test_an_rss_feed_names_its_hub_through_atom_link_with_relative_and_escaped_addresses():
    content = (
        b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
        b"<link>https://example.org/</link>"
        b'<atom:link rel="hub" href="/hub?a=1&amp;b=2"/><atom:link rel="self" type="application/rss+xml" '
        b'href="https://example.org/rss"/><item><title>x</title></item></channel></rss>'
    )
    links = websub.discover(content=content, headers=httpx.Headers(), url=FEED)
    assert links == websub.HubLinks(hub="https://example.org/hub?a=1&b=2", topic="https://example.org/rss")


def test_link_headers_come_before_the_document_and_the_fetched_url_is_the_topic_without_self():
    content = b'<feed><link rel="hub" href="https://document-hub.example/"/></feed>'
    headers = httpx.Headers(
        {"Link": '<https://header-hub.example/>; rel="hub", <https://x.example/a>; rel=next'}
    )
    assert websub.discover(content=content, headers=headers, url=FEED) == websub.HubLinks(
        hub="https://header-hub.example/", topic=FEED
    )


def test_links_inside_entries_and_non_http_hubs_are_not_the_feeds():
    content = (
        b'<feed><link rel="hub" href="javascript:alert(1)"/><entry>'
        b'<link rel="hub" href="https://entry-hub.example/"/></entry></feed>'
    )
    assert websub.discover(content=content, headers=httpx.Headers(), url=FEED) == websub.HubLinks()


def test_scanning_a_hostile_feed_head_stays_linear():
    hostile = b"<feed>" + b"<link" * 50_000 + b"<a:link rel=" * 20_000
    started = time.perf_counter()
    assert websub.discover(content=hostile, headers=httpx.Headers(), url=FEED) == websub.HubLinks()
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_a_signature_made_with_the_secret_is_valid(algorithm):
    body = b"<feed>pushed</feed>"
    digest = hmac.new(b"secret", body, getattr(hashlib, algorithm)).hexdigest()
    assert websub.signature_valid(secret="secret", body=body, header=f"{algorithm}={digest}")
    assert websub.signature_valid(secret="secret", body=body, header=f"{algorithm.upper()}={digest.upper()}")


@pytest.mark.parametrize(
    "header",
    ["", "sha256=", "sha256=00", "md5=abc", "sha256", "sha256=é" + "0" * 63],
)
def test_missing_malformed_or_wrong_signatures_are_not_valid(header):
    assert not websub.signature_valid(secret="secret", body=b"body", header=header)


def test_a_body_changed_after_signing_is_not_valid():
    digest = hmac.new(b"secret", b"original", hashlib.sha256).hexdigest()
    assert not websub.signature_valid(secret="secret", body=b"originaL", header=f"sha256={digest}")


def test_a_hub_that_accepts_returns_its_status_and_one_that_refuses_raises(websub_hub):
    fields = {
        "hub.mode": "subscribe",
        "hub.topic": FEED,
        "hub.callback": "https://news.example.com/websub/t/",
    }
    assert websub.hub_post(websub_hub.url, fields) == 202
    with pytest.raises(websub.HubError) as refused:
        websub.hub_post(websub_hub.url, {"hub.mode": "subscribe"})
    assert refused.value.status == 400 and not refused.value.retryable
    websub_hub.fail_next = [503]
    with pytest.raises(websub.HubError) as busy:
        websub.hub_post(websub_hub.url, fields)
    assert busy.value.retryable


def test_a_hub_on_a_private_address_is_never_reached(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(websub.HubError, match="blocked"):
        websub.hub_post("http://127.0.0.1:9/", {"hub.mode": "publish", "hub.url": FEED})


@pytest.mark.skipif(fixtures_dir() is None, reason="shared fixtures folder ../shared/fixtures is absent")
@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("feedjira--TechCrunch.xml", "http://feeds.feedburner.com/Techcrunch"),
        ("feedjira--SamRuby.xml", "http://intertwingly.net/blog/index.atom"),
    ],
)
def test_real_feeds_that_name_a_hub_are_found_with_their_topic(name, topic):
    content = (fixtures_dir() / "feeds" / name).read_bytes()
    links = websub.discover(content=content, headers=httpx.Headers(), url="https://fetched.example/feed")
    assert links == websub.HubLinks(hub="http://pubsubhubbub.appspot.com/", topic=topic)
