"""The operator's doors: add_source, import_opml, export_opml, poll_sources, and the
Celery tasks behind beat."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.ingest import tasks as ingest_tasks
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


@pytest.fixture
def eager(eager_celery):
    # The PostgreSQL + Redis leg runs Celery for real; these tests want the tasks inline.
    pass


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


def test_add_source_refuses_private_addresses_and_other_schemes(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(CommandError, match="blocked"):
        run("add_source", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(CommandError, match="http"):
        run("add_source", "file:///etc/passwd")
    assert not Source.objects.exists()


# --- OPML -------------------------------------------------------------------------------------


def test_the_starter_catalogue_imports_offline_and_idempotently():
    output = run("import_opml", str(STARTER))
    count = len(opml_outlines(STARTER.read_bytes()))
    assert count >= 40
    assert output.strip() == f"added={count} already_present=0 invalid=0"
    assert run("import_opml", str(STARTER)).strip() == f"added=0 already_present={count} invalid=0"
    assert Source.objects.count() == count
    assert not FetchAttempt.objects.exists()


def test_imported_outlines_get_the_existing_topic_named_by_their_category():
    topic = factories.make_topic("AI")
    topic.slug = "ai"
    topic.save()
    run("import_opml", str(STARTER))
    assert Source.objects.get(feed_url="https://openai.com/news/rss.xml").topics.get() == topic


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


def test_opml_declaring_entities_is_refused(tmp_path):
    opml = tmp_path / "evil.opml"
    opml.write_bytes(LAUGHS.replace(b"rss", b"opml"))
    with pytest.raises(CommandError, match="entities"):
        run("import_opml", str(opml))


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


def test_poll_sources_rejects_an_unknown_id():
    with pytest.raises(CommandError, match="No source"):
        run("poll_sources", "--source", "999999")


# --- Tasks ------------------------------------------------------------------------------------


def test_beat_fans_out_due_sources_and_new_articles_get_extracted(
    feed_server, eager, django_capture_on_commit_callbacks, monkeypatch
):
    # The extract task chains the summary task; here we only check it is handed the article.
    handed_over: list[int] = []
    monkeypatch.setattr(ingest_tasks.summarize_article, "delay_on_commit", handed_over.append)
    page = (
        "<html><body><article><p>" + " ".join(["Plenty of words here."] * 40) + "</p></article></body></html>"
    )
    feed_server.routes["/robots.txt"] = Route(body=b"", status=404)
    feed_server.routes["/story"] = Route(body=page.encode(), content_type="text/html")
    feed_server.routes["/feed"] = Route(body=rss([("Story", feed_server.url("/story"))]))
    source = factories.make_source(feed_url=feed_server.url("/feed"), next_poll_at=timezone.now())
    factories.make_source(
        feed_url=feed_server.url("/later"), next_poll_at=timezone.now() + timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_tasks.poll_due_sources() == 1
    article = Article.objects.get(source=source)
    assert article.status == Article.Status.EXTRACTED and article.word_count >= 80
    assert handed_over == [article.pk]
    assert FetchAttempt.objects.count() == 1


def test_fetch_source_skips_a_paused_source(feed_server):
    source = factories.make_source(feed_url=feed_server.url("/feed"), paused_at=timezone.now())
    assert ingest_tasks.fetch_source(source.pk) == {"skipped": True}
    assert feed_server.hits == []


def test_beat_schedule_polls_due_sources_every_few_minutes():
    entry = django_settings.CELERY_BEAT_SCHEDULE["poll-due-sources"]
    assert entry["task"] == "articles.tasks.poll_due_sources"
    assert 60 <= entry["schedule"] <= 600
