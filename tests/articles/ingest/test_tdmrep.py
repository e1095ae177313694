"""articles/ingest/tdmrep.py: reading a page's TDM declaration from its header, its origin's
/.well-known/tdmrep.json (over loopback HTTP) and its meta tags. How extraction acts on it:
test_extraction.py."""

from __future__ import annotations

import json

import httpx
import pytest

from articles.ingest import tdmrep
from tests.fakes.feed_server import Route


def declaration(server, path: str, *, headers: dict[str, str] | None = None, page: bytes = b"<html></html>"):
    return tdmrep.page_reservation(server.url(path), headers=httpx.Headers(headers or {}), content=page)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/", "/anything/at/all", True),
        ("/*", "/", True),
        ("/news/", "/news/2026/story", True),
        ("/news/", "/sport/news/", False),
        ("/images/*.jpg", "/images/2026/cat.jpg?size=2", True),
        ("/images/*.jpg$", "/images/2026/cat.jpg?size=2", False),
        ("/images/*.jpg$", "/images/2026/cat.jpg", True),
        ("/a*b*c", "/a-c-b", False),
        ("/a*b*c", "/a-b-c", True),
        ("/exact$", "/exact/more", False),
    ],
)
def test_locations_match_like_robots_txt_paths(pattern, path, matches):
    assert tdmrep.location_matches(pattern, path) is matches


def test_unusable_rules_and_documents_are_no_declaration():
    assert tdmrep.parse_rules(b"not json") == []
    assert tdmrep.parse_rules(b'{"location": "/", "tdm-reservation": 1}') == []  # not an array
    rules = [
        {"location": "/a", "tdm-reservation": 2},
        {"location": "/b", "tdm-reservation": True},
        {"tdm-reservation": 1},
        "junk",
        {"location": "/c", "tdm-reservation": 1, "tdm-policy": ["not", "a", "url"]},
    ]
    assert tdmrep.parse_rules(json.dumps(rules).encode()) == [("/c", 1, "")]


@pytest.mark.django_db
def test_the_first_matching_rule_decides(feed_server):
    feed_server.routes["/.well-known/tdmrep.json"] = Route(
        body=b'[{"location": "/free/", "tdm-reservation": 0}, {"location": "/", "tdm-reservation": 1}]',
        content_type="application/json",
    )
    assert not declaration(feed_server, "/free/story").reserved
    reserved = declaration(feed_server, "/paid/story")
    assert (reserved.reserved, reserved.via) == (True, "tdmrep.json")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [404, 500])
def test_a_missing_or_failing_file_is_no_declaration_and_is_not_asked_for_every_page(feed_server, status):
    feed_server.routes["/.well-known/tdmrep.json"] = Route(body=b"[]", status=status)
    assert declaration(feed_server, "/one") == tdmrep.Reservation()
    assert declaration(feed_server, "/two") == tdmrep.Reservation()
    assert len(feed_server.hits_for("/.well-known/tdmrep.json")) == 1


@pytest.mark.django_db
def test_an_oversized_file_is_not_read(feed_server):
    feed_server.routes["/.well-known/tdmrep.json"] = Route(
        body=b'[{"location": "/", "tdm-reservation": 1}' + b" " * tdmrep.TDMREP_MAX_BYTES + b"]"
    )
    assert not declaration(feed_server, "/story").reserved


@pytest.mark.django_db
def test_the_header_decides_before_the_file_and_the_file_before_the_meta_tag(feed_server):
    feed_server.routes["/.well-known/tdmrep.json"] = Route(body=b'[{"location": "/", "tdm-reservation": 0}]')
    meta = b'<html><head><meta content="1" name="TDM-Reservation"></head></html>'
    assert declaration(feed_server, "/a", headers={"TDM-Reservation": "1"}).via == "header"
    assert declaration(feed_server, "/a", headers={"tdm-reservation": "0"}, page=meta).reserved is False
    assert declaration(feed_server, "/a", page=meta) == tdmrep.Reservation(reserved=False, via="tdmrep.json")


@pytest.mark.django_db
def test_a_meta_tag_declares_when_nothing_else_does(feed_server):
    page = (
        b"<html><head><meta charset=utf-8><meta name='tdm-reservation' content='1'>"
        b"<meta name=tdm-policy content=https://publisher.example/policy></head></html>"
    )
    assert declaration(feed_server, "/a", page=page) == tdmrep.Reservation(
        reserved=True, via="meta", policy="https://publisher.example/policy"
    )
    # A value other than 0 or 1 is a protocol error: no declaration.
    assert declaration(feed_server, "/a", headers={"tdm-reservation": "yes"}) == tdmrep.Reservation()


@pytest.mark.django_db
def test_our_own_well_known_file_reads_back_as_reserving_every_path(client):
    rules = tdmrep.parse_rules(client.get("/.well-known/tdmrep.json").content)
    assert rules == [("/*", 1, "")]
    assert all(tdmrep.location_matches("/*", path) for path in ("/", "/a/some-story/", "/feed.json?x=1"))
