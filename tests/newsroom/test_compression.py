"""newsroom/compression.py and the page cache's stored encodings: the bytes on the wire,
decompressed by the stdlib gzip module and the brotli package, and the headers around them."""

from __future__ import annotations

import gzip
import time
from xml.etree import ElementTree

import brotli
import feedparser
import pytest

from newsroom import compression
from newsroom.compression import negotiate

pytestmark = pytest.mark.django_db

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress, None: lambda body: body}


def decoded(response) -> bytes:
    return DECODE[response.get("Content-Encoding")](response.content)


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br, zstd", "br"),  # what browsers send: the smaller wins a tie
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("br;q=0, *", "gzip"),
        ("gzip;q=0, br;q=0", None),
        ("identity", None),
        ("deflate", None),
        ("", None),
    ],
)
def test_a_cached_page_is_sent_in_the_encoding_the_reader_asks_for(client, published_article, accept, coding):
    url = published_article.get_absolute_url()
    plain = client.get(url).content  # stored now
    for _ in range(2):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response["X-Page-Cache"] == "hit"
        assert response.get("Content-Encoding") == coding
        assert decoded(response) == plain
        assert response["Content-Length"] == str(len(response.content))
        assert "Accept-Encoding" in response["Vary"]
    if coding:
        assert len(response.content) < len(plain) / 3


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_the_reader_who_fills_the_cache_gets_the_same_bytes_as_the_next(client, published_article, coding):
    url = published_article.get_absolute_url()
    first = client.get(url, headers={"Accept-Encoding": coding})
    second = client.get(url, headers={"Accept-Encoding": coding})
    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit")
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert first["Content-Encoding"] == second["Content-Encoding"] == coding
    assert published_article.title in decoded(first).decode()


def test_each_encoding_has_its_own_etag_and_revalidates_with_304(client, published_article):
    url = published_article.get_absolute_url()
    etags = {
        coding: client.get(url, headers={"Accept-Encoding": coding})["ETag"]
        for coding in ("gzip", "br", "identity")
    }
    assert len(set(etags.values())) == 3
    assert all(etag.startswith('"') for etag in etags.values())  # strong: the bytes are fixed
    for coding, etag in etags.items():
        revalidated = client.get(url, headers={"Accept-Encoding": coding, "If-None-Match": etag})
        assert revalidated.status_code == 304
        assert revalidated["ETag"] == etag
    assert (
        client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": etags["gzip"]}).status_code == 200
    )


def test_a_head_request_states_the_length_of_the_encoded_body(client, published_article):
    url = published_article.get_absolute_url()
    body = client.get(url, headers={"Accept-Encoding": "gzip"}).content
    head = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert head["X-Page-Cache"] == "hit"
    assert head["Content-Encoding"] == "gzip"
    assert head["Content-Length"] == str(len(body))


def test_a_cache_hit_compresses_nothing(client, published_article, monkeypatch):
    url = published_article.get_absolute_url()
    client.get(url)

    def refuse(*args, **kwargs):
        raise AssertionError("compressed on a cache hit")

    monkeypatch.setattr(compression.gzip, "compress", refuse)
    monkeypatch.setattr(compression.brotli, "compress", refuse)
    monkeypatch.setattr(compression.GZipMiddleware, "process_response", refuse)
    for coding in ("gzip", "br", "identity"):
        assert client.get(url, headers={"Accept-Encoding": coding})["X-Page-Cache"] == "hit"


@pytest.mark.parametrize("path", ["/feed/", "/feed/atom/"])
def test_feeds_are_sent_compressed_and_parse(client, published_article, path):
    for coding in ("gzip", "br"):
        response = client.get(path, headers={"Accept-Encoding": coding})
        assert response["Content-Encoding"] == coding
        feed = feedparser.parse(decoded(response))
        assert not feed.bozo
        assert [entry.title for entry in feed.entries] == [published_article.title]


def test_the_json_feed_and_the_sitemap_are_sent_compressed(client, published_article):
    response = client.get("/feed.json", headers={"Accept-Encoding": "br"})
    assert response["Content-Encoding"] == "br"
    assert b'"items"' in decoded(response)
    response = client.get("/sitemap.xml", headers={"Accept-Encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    urls = ElementTree.fromstring(decoded(response)).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
    assert any(url.text.endswith(published_article.get_absolute_url()) for url in urls)


def test_pages_for_logged_in_readers_are_gzipped_per_request_never_brotli(client, published_article, reader):
    client.force_login(reader)
    response = client.get("/", headers={"Accept-Encoding": "br, gzip"})
    assert "X-Page-Cache" not in response
    assert response["Content-Encoding"] == "gzip"  # gzip carries Django's BREACH padding
    assert "Log out" in decoded(response).decode()
    assert "Accept-Encoding" in response["Vary"]


def test_a_form_page_with_a_csrf_token_is_gzipped_per_request(client, db):
    response = client.get("/accounts/login/", headers={"Accept-Encoding": "br, gzip"})
    assert response["Content-Encoding"] == "gzip"
    assert b"csrfmiddlewaretoken" in decoded(response)
    # Django pads the gzip header with random bytes: the same page differs in length.
    lengths = {
        len(client.get("/accounts/login/", headers={"Accept-Encoding": "gzip"}).content) for _ in range(8)
    }
    assert len(lengths) > 1


def test_a_logged_in_page_gzipped_per_request_is_the_page_with_a_padded_header(
    client, published_article, reader
):
    client.force_login(reader)
    url = published_article.get_absolute_url()
    plain = client.get(url).content.decode()
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Length"] == str(len(response.content))
    assert response.content[3] & gzip.FNAME  # the random padding is the header's file name
    # The page itself, but for the CSRF token, masked afresh on every response.
    page = decoded(response).decode()
    assert page.split('name="csrfmiddlewaretoken"')[0] == plain.split('name="csrfmiddlewaretoken"')[0]
    body = plain.encode()
    lengths = {len(compression.gzip_per_request(body)) for _ in range(20)}
    assert len(lengths) > 1
    assert gzip.decompress(compression.gzip_per_request(body)) == body


def test_uncached_anonymous_pages_are_gzipped_too(client, published_article, settings):
    settings.PAGE_CACHE_SECONDS = 0
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    assert published_article.title in decoded(response).decode()
    assert response["ETag"].startswith('W/"')  # the gzip bytes differ each time: a weak ETag
    again = client.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": response["ETag"]})
    assert again.status_code == 304
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused


def test_tiny_responses_are_sent_as_they_are_and_still_cached_for_every_reader(client, db):
    for state in ("miss", "hit"):
        response = client.get("/robots.txt", headers={"Accept-Encoding": "gzip, br"})
        assert response["X-Page-Cache"] == state
        assert len(response.content) < compression.MIN_SIZE
        assert "Content-Encoding" not in response
        assert response.content.startswith(b"User-agent: *")
    assert client.get("/robots.txt", headers={"Accept-Encoding": "gzip"})["X-Page-Cache"] == "hit"


def test_negotiation_reads_q_values_and_refuses_malformed_ones():
    both = ("br", "gzip")
    assert negotiate("gzip;q=0.8, br;q=0.9", both) == "br"
    assert negotiate("gzip ; q=0.8 , br ; q=0.7", both) == "gzip"
    assert negotiate("br;q=oops, gzip;q=0.1", both) == "gzip"
    assert negotiate("br;q=2, gzip;q=nan", both) == "identity"
    assert negotiate("BR", both) == "br"
    assert negotiate("gzip", ("br",)) == "identity"
    assert negotiate("br, gzip", ()) == "identity"


def test_a_huge_accept_encoding_header_costs_next_to_nothing():
    header = "x;q=0.5," * 200_000 + "gzip"
    start = time.perf_counter()
    assert negotiate(header, ("br", "gzip")) == "identity"  # past the cap: not read
    assert time.perf_counter() - start < 0.5
