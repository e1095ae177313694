"""The operator's doors to ingestion (articles/management/commands): add_source,
import_opml, export_opml, poll_sources. The Celery tasks behind beat: test_tasks.py."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.ingest.opml import opml_outlines
from articles.models import Article, FetchAttempt, Source
from tests import factories
from tests.articles.ingest.test_parse import LAUGHS
from tests.fakes.feed_server import Route, fixtures_dir, rss

FIXTURES = fixtures_dir()
needs_fixtures = pytest.mark.skipif(
    FIXTURES is None, reason="shared fixtures folder ../shared/fixtures is absent"
)
STARTER = Path(django_settings.BASE_DIR) / "articles" / "data" / "starter-sources.opml"
pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- add_source -------------------------------------------------------------------------------


def test_add_source_validates_the_feed_then_stores_it_with_topics(feed_server):
    feed_server.routes["/feed"] = Route(body=rss([("One", "https://x.org/1")], title="Rail &amp; Road News"))
    output = run("add_source", feed_server.url("/feed"), "--topic", "ai", "--topic", "transport")
    source = Source.objects.get()
    assert source.name == "Rail & Road News" and source.site_url == "https://example.org/"
    assert sorted(source.topics.values_list("slug", flat=True)) == ["ai", "transport"]
    assert f"Added source {source.pk}" in output


def test_add_source_takes_an_explicit_name(feed_server):
    feed_server.routes["/feed"] = Route(body=rss([("One", "https://x.org/1")]))
    run("add_source", feed_server.url("/feed"), "--name", "My feed")
    assert Source.objects.get().name == "My feed"


@pytest.mark.parametrize(
    "route, message",
    [
        (
            Route(body=b"<!DOCTYPE html><html><body>Home</body></html>", content_type="text/html"),
            "not-a-feed",
        ),
        (Route(status=404), "http-error"),
        (Route(body=LAUGHS), "unsafe-xml"),
    ],
    ids=["html", "404", "billion-laughs"],
)
def test_add_source_refuses_what_is_not_a_feed_and_stores_nothing(feed_server, route, message):
    feed_server.routes["/page"] = route
    with pytest.raises(CommandError, match=message):
        run("add_source", feed_server.url("/page"))
    assert not Source.objects.exists()


def test_add_source_refuses_a_feed_over_the_size_cap_before_parsing_it(feed_server, settings):
    settings.FETCH_MAX_BYTES = 4096
    feed_server.routes["/feed"] = Route(body=rss([(f"Story {i}", f"https://x.org/{i}") for i in range(100)]))
    with pytest.raises(CommandError, match="too-large"):
        run("add_source", feed_server.url("/feed"))
    assert not Source.objects.exists()


def test_add_source_refuses_a_feed_built_to_make_the_parser_backtrack_within_a_second(feed_server):
    feed_server.routes["/feed"] = Route(body=b"<!--a-->" * 24 + b"<x/>")
    started = time.monotonic()
    with pytest.raises(CommandError, match="not-a-feed"):
        run("add_source", feed_server.url("/feed"))
    assert time.monotonic() - started < 1


def test_add_source_refuses_private_addresses_and_other_schemes(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(CommandError, match="blocked"):
        run("add_source", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(CommandError, match="http"):
        run("add_source", "file:///etc/passwd")
    assert not Source.objects.exists()


# --- OPML -------------------------------------------------------------------------------------


def test_the_starter_catalogue_imports_offline_and_idempotently():
    output = run("import_opml", str(STARTER)).splitlines()
    count = len(opml_outlines(STARTER.read_bytes()))
    assert count >= 40
    assert output[-1] == f"added={count} already_present=0 invalid=0"
    assert run("import_opml", str(STARTER)).splitlines()[-1] == f"added=0 already_present={count} invalid=0"
    assert Source.objects.count() == count
    assert not FetchAttempt.objects.exists()


def test_import_lists_categories_that_name_no_topic_and_creates_them_when_asked():
    outlines = opml_outlines(STARTER.read_bytes())
    per_category = Counter(name for outline in outlines for name in outline.categories)
    assert set(per_category) == {"ai", "technology"}
    output = run("import_opml", str(STARTER)).splitlines()
    assert output[:3] == [
        f"unknown category: ai ({per_category['ai']} feeds)",
        f"unknown category: technology ({per_category['technology']} feeds)",
        "rerun with --create-topics to create these topics and file their feeds",
    ]
    assert not Source.objects.filter(topics__isnull=False).exists()

    output = run("import_opml", str(STARTER), "--create-topics").splitlines()
    assert output == [
        "created topic: ai",
        "created topic: technology",
        f"topics added to {len(outlines)} feed(s) already present",
        f"added=0 already_present={len(outlines)} invalid=0",
    ]
    assert Source.objects.filter(topics__slug="ai").count() == per_category["ai"]


@needs_fixtures
@pytest.mark.parametrize(
    "name, expected", [("Tech", 26), ("Programming", 50), ("Startups", 23), ("Science", 24)]
)
def test_real_world_malformed_opml_is_read_leniently(tmp_path, name, expected):
    output = run("import_opml", str(FIXTURES / "sources" / f"awesome-rss-feeds--{name}.opml"))
    assert Source.objects.count() == expected, output
    if name == "Science":
        assert Source.objects.filter(name="BBC News - Science & Environment").exists()


def test_import_reports_invalid_urls(tmp_path):
    opml = tmp_path / "mixed.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="Good" xmlUrl="https://good.example.org/feed"/>'
        '<outline text="Script" xmlUrl="javascript:alert(1)"/>'
        '<outline text="File" xmlUrl="file:///etc/passwd"/>'
        "</body></opml>"
    )
    assert run("import_opml", str(opml)).strip() == "added=1 already_present=0 invalid=2"


def test_opml_declaring_entities_is_refused_and_nothing_is_imported(tmp_path):
    opml = tmp_path / "evil.opml"
    opml.write_bytes(
        b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY lol "lol">]>\n<opml version="2.0"><body>'
        b'<outline text="Good" xmlUrl="https://good.example.org/feed"/>'
        b'<outline text="&lol;" xmlUrl="https://lol.example.org/feed"/>'
        b"</body></opml>"
    )
    with pytest.raises(CommandError, match="DTD"):
        run("import_opml", str(opml))
    assert not Source.objects.exists()


def test_import_refuses_a_file_over_5_mb_without_reading_it_all(tmp_path):
    big = tmp_path / "big.opml"
    big.write_bytes(b'<opml version="2.0"><body>' + b" " * (6 * 1024 * 1024) + b"</body></opml>")
    with pytest.raises(CommandError, match="larger than 5 MB"):
        run("import_opml", str(big))


def test_export_round_trips_through_import(tmp_path):
    source = factories.make_source(name="Rail & Road", feed_url="https://rail.example.org/feed?x=1&y=2")
    source.topics.add(factories.make_topic("Transport"))
    exported = run("export_opml")
    assert exported.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    Source.objects.all().delete()
    path = tmp_path / "export.opml"
    path.write_text(exported)
    assert run("import_opml", str(path)).strip() == "added=1 already_present=0 invalid=0"
    again = Source.objects.get()
    assert (again.name, again.feed_url) == ("Rail & Road", "https://rail.example.org/feed?x=1&y=2")


# --- poll_sources -----------------------------------------------------------------------------


def test_poll_sources_prints_a_line_per_source_and_the_totals(feed_server):
    feed_server.routes["/good"] = Route(body=rss([("A", "https://x.org/a"), ("B", "https://x.org/b")]))
    feed_server.routes["/dupes"] = Route(body=rss([("A again", "https://x.org/a?utm_source=rss")]))
    feed_server.routes["/bad"] = Route(body=LAUGHS)
    feed_server.routes["/html"] = Route(body=b"<html><body>hi</body></html>", content_type="text/html")
    for path in ("/good", "/dupes", "/bad", "/html"):
        factories.make_source(name=path.strip("/"), feed_url=feed_server.url(path))
    output = run("poll_sources", "--no-extract").splitlines()
    assert len(output) == 5
    assert output[-1] == "fetched=2 new=2 duplicate=1 failed=2"
    assert any("bad" in line and "unsafe-xml" in line for line in output)


def test_poll_sources_polls_only_due_sources_unless_asked(feed_server):
    feed_server.routes["/feed"] = Route(body=rss([("A", "https://x.org/a")]))
    later = factories.make_source(
        feed_url=feed_server.url("/feed"), next_poll_at=timezone.now() + timedelta(hours=1)
    )
    assert run("poll_sources", "--no-extract").strip() == "fetched=0 new=0 duplicate=0 failed=0"
    assert run("poll_sources", "--no-extract", "--source", str(later.pk)).splitlines()[-1] == (
        "fetched=1 new=1 duplicate=0 failed=0"
    )
    assert (
        run("poll_sources", "--no-extract", "--all").splitlines()[-1]
        == "fetched=1 new=0 duplicate=1 failed=0"
    )


def test_poll_sources_rejects_an_unknown_id_and_polls_nothing(feed_server):
    feed_server.routes["/feed"] = Route(body=rss([("A", "https://x.org/a")]))
    factories.make_source(feed_url=feed_server.url("/feed"), next_poll_at=timezone.now())
    with pytest.raises(CommandError, match="No source"):
        run("poll_sources", "--source", "999999")
    assert feed_server.hits == []
    assert not FetchAttempt.objects.exists() and not Article.objects.exists()
