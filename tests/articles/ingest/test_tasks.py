"""articles/ingest/tasks.py: beat fans out due sources, fetches chain extraction, and the
sweeper re-queues articles whose extract message was lost (issue #9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.ingest import extraction
from articles.ingest import tasks as ingest_tasks
from articles.models import Article, FetchAttempt
from articles.stories import tasks as story_tasks
from tests import factories
from tests.fakes.feed_server import Route, rss

pytestmark = pytest.mark.django_db


def test_beat_fans_out_due_sources_and_new_articles_get_extracted(
    feed_server, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    # The extract task chains grouping, which chains the summary task; here we only check
    # the summary task is handed the article.
    handed_over: list[int] = []
    monkeypatch.setattr(story_tasks.summarize_article, "delay_on_commit", handed_over.append)
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
    assert article.story_id is not None
    assert handed_over == [article.pk]
    assert FetchAttempt.objects.count() == 1


def test_fetch_source_skips_a_paused_source(feed_server):
    source = factories.make_source(feed_url=feed_server.url("/feed"), paused_at=timezone.now())
    assert ingest_tasks.fetch_source(source.pk) == {"skipped": True}
    assert feed_server.hits == []
    assert not FetchAttempt.objects.exists()


def test_the_sweep_task_extracts_a_stranded_article(settings, eager_celery, monkeypatch):
    settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS = 900
    stranded = factories.make_article(
        status=Article.Status.NEW, status_changed_at=timezone.now() - timedelta(hours=1)
    )
    factories.make_article(status=Article.Status.NEW)  # its extract message is probably still queued
    extracted: list[int] = []
    monkeypatch.setattr(extraction, "article_extract", lambda *, article: extracted.append(article.pk))

    assert ingest_tasks.sweep_unextracted_articles.delay().get() == 1
    assert extracted == [stranded.pk]


def test_beat_schedule_polls_due_sources_every_few_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["poll-due-sources"]
    assert entry["task"] == ingest_tasks.poll_due_sources.name
    assert 60 <= entry["schedule"] <= 600


def test_the_sweep_runs_on_the_beat_more_often_than_an_article_counts_as_stranded(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-unextracted-articles"]
    assert entry["task"] == ingest_tasks.sweep_unextracted_articles.name
    assert entry["schedule"] <= settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS
