"""articles/ingest/urls.py: one canonical form per page, so the same story is stored once."""

from __future__ import annotations

import pytest

from articles.ingest.urls import canonical_url


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=2&a=1#frag",
            "https://news.example.org/a/b?a=1&id=2",
        ),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:8080/x?fbclid=1&gclid=2&ref=hn&mc_cid=3", "http://example.org:8080/x"),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://example.org/story%3Futm_campaign%3Dz",
            "https://example.org/story",
        ),
        ("javascript:alert(1)", ""),
        ("ftp://example.org/x", ""),
        ("", ""),
    ],
)
def test_canonical_urls_drop_what_does_not_identify_the_page(url, expected):
    assert canonical_url(url) == expected
