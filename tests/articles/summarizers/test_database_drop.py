"""A database connection lost mid-summary (issue #9): the article is released for a retry."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from articles.models import Article, Summary
from articles.summarizers import workflow
from tests import factories


def dropped_connection(**kwargs):
    raise OperationalError("terminating connection due to administrator command")


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_storing_releases_the_article_and_asks_for_a_retry(monkeypatch):
    article = factories.make_article()
    monkeypatch.setattr(workflow, "_store", dropped_connection)

    with pytest.raises(workflow.SummaryTemporaryError, match="database connection lost"):
        workflow.article_summarize(article_id=article.pk, backend="extractive")

    article.refresh_from_db()
    assert article.status == Article.Status.EXTRACTED
    assert article.status_reason == "Retrying after the database connection was lost."
    assert not Summary.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_release_leaves_an_article_someone_else_has_moved_on_alone(monkeypatch):
    article = factories.make_article()

    def store_elsewhere_then_drop(**kwargs):
        # Another worker finished it meanwhile (e.g. after the sweeper released our claim).
        Article.objects.filter(pk=article.pk).update(status=Article.Status.IN_REVIEW)
        dropped_connection()

    monkeypatch.setattr(workflow, "_store", store_elsewhere_then_drop)

    with pytest.raises(workflow.SummaryTemporaryError):
        workflow.article_summarize(article_id=article.pk, backend="extractive")

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW


@pytest.mark.django_db(transaction=True)
def test_after_the_release_the_retry_summarises_the_article_once(monkeypatch):
    article = factories.make_article()
    real_store = workflow._store
    monkeypatch.setattr(workflow, "_store", dropped_connection)
    with pytest.raises(workflow.SummaryTemporaryError):
        workflow.article_summarize(article_id=article.pk, backend="extractive")
    monkeypatch.setattr(workflow, "_store", real_store)

    outcome = workflow.article_summarize(article_id=article.pk, backend="extractive")

    assert outcome.result in {"summarized", "review"}
    assert Summary.objects.filter(article=article).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_regenerating_a_live_article_releases_only_its_claim(monkeypatch):
    article = factories.make_published_article()
    monkeypatch.setattr(workflow, "_store", dropped_connection)

    with pytest.raises(workflow.SummaryTemporaryError, match="database connection lost"):
        workflow.article_summarize(article_id=article.pk, backend="extractive", force=True)

    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED and article.summarizing_since is None
    assert Summary.objects.filter(article=article).count() == 1
