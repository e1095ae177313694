"""Desk actions racing each other and the periodic publisher on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.desk import services
from articles.models import Article, AuditEntry
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

Status = Article.Status


def test_two_beat_ticks_publish_a_scheduled_article_once():
    article = factories.make_review_article()
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))

    first, second = race(services.publish_scheduled_due, services.publish_scheduled_due)

    assert sorted(first + second) == [article.pk]
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == Status.PUBLISHED and fresh.corrected_at is None
    assert AuditEntry.objects.filter(article=article, action="publish").count() == 1


def test_two_editors_retrying_one_failed_article_send_it_back_once():
    # Services trust their caller for permissions (the admin checks them), so plain users do.
    article = factories.make_article(status=Status.FAILED)
    editor, other_editor = factories.make_user(staff=True), factories.make_user(staff=True)

    results = race(
        lambda: services.article_retry(article=Article.objects.get(pk=article.pk), editor=editor),
        lambda: services.article_retry(article=Article.objects.get(pk=article.pk), editor=other_editor),
    )

    refused = [r for r in results if isinstance(r, services.DeskError)]
    assert len(refused) == 1 and Status.EXTRACTED in results, results
    assert Article.objects.get(pk=article.pk).status == Status.EXTRACTED
    assert AuditEntry.objects.filter(article=article, action="retry").count() == 1


def test_rejecting_while_the_scheduled_publisher_runs_never_leaves_a_rejected_article_live():
    editor = factories.make_user(staff=True)
    article = factories.make_review_article()
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))

    published, rejected = race(
        services.publish_scheduled_due,
        lambda: services.article_reject(
            article=Article.objects.get(pk=article.pk), editor=editor, reason="Wrong story."
        ),
    )

    assert rejected is None, rejected  # rejecting works from in_review and from published
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == Status.REJECTED and fresh.scheduled_for is None
    assert not Article.objects.published().filter(pk=article.pk).exists()
