"""The sweeper for articles whose extract message was lost (issue #9)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from articles.ingest import extraction
from articles.models import Article
from tests import factories


def article_new_since(seconds: int) -> Article:
    article = factories.make_article(status=Article.Status.NEW)
    Article.objects.filter(pk=article.pk).update(
        status_changed_at=timezone.now() - dt.timedelta(seconds=seconds)
    )
    return article


@pytest.mark.django_db
def test_only_articles_left_new_longer_than_the_stuck_age_are_swept_oldest_first():
    older = article_new_since(3600)
    old = article_new_since(1000)
    article_new_since(10)  # its extract message is probably still queued
    factories.make_article(status=Article.Status.EXTRACTED)

    assert extraction.articles_unextracted(older_than_seconds=900) == [older.pk, old.pk]


@pytest.mark.django_db
def test_the_sweep_task_extracts_a_stranded_article(settings, eager_celery, monkeypatch):
    from articles.ingest import tasks as ingest_tasks

    stranded = article_new_since(3600)
    settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS = 900
    extracted: list[int] = []
    monkeypatch.setattr(extraction, "article_extract", lambda *, article: extracted.append(article.pk))

    assert ingest_tasks.sweep_unextracted_articles.delay().get() == 1
    assert extracted == [stranded.pk]


def test_the_sweep_runs_on_the_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-unextracted-articles"]
    assert entry["task"] == "articles.tasks.sweep_unextracted_articles"
    assert entry["schedule"] <= settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS
