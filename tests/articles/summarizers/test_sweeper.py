"""The summaries sweeper: stuck claims are released under their token, waiting articles re-queued."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from articles.models import Article, AuditEntry, ModelCall, SummaryBatch
from articles.summarizers import sweeper
from articles.summarizers.tasks import (
    sweep_stuck_summaries,
)
from tests import factories
from tests.articles.summarizers.conftest import summarize

# Tasks enqueued here (sweeper, batch fallback) run in-process on both CI legs.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = Article.Status


def test_the_sweeper_requeues_an_article_stuck_in_summarizing(fake_anthropic, settings):
    old = timezone.now() - timedelta(seconds=settings.SUMMARY_STUCK_AFTER_SECONDS + 60)
    stuck = factories.make_article(status=Status.SUMMARIZING)
    fresh = factories.make_article(status=Status.SUMMARIZING)
    batched = factories.make_article(status=Status.SUMMARIZING)
    Article.objects.filter(pk__in=[stuck.pk, batched.pk]).update(status_changed_at=old)
    SummaryBatch.objects.create(batch_id="msgbatch_open", article_ids=[batched.pk])

    assert sweep_stuck_summaries.apply().result == 1  # eager: the re-enqueued task runs now

    stuck.refresh_from_db(), fresh.refresh_from_db(), batched.refresh_from_db()
    assert stuck.status == Status.IN_REVIEW
    assert fresh.status == batched.status == Status.SUMMARIZING
    assert AuditEntry.objects.filter(article=stuck, action="summarize-sweep", automatic=True).exists()


def test_the_sweeper_resumes_articles_left_waiting_unless_the_budget_is_spent(fake_anthropic, settings):
    old = timezone.now() - timedelta(seconds=settings.SUMMARY_STUCK_AFTER_SECONDS + 60)
    waiting = factories.make_article()
    just_arrived = factories.make_article()
    Article.objects.filter(pk=waiting.pk).update(status_changed_at=old)
    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("1")
    ModelCall.objects.create(backend="anthropic", model="m", outcome="ok", cost_usd=Decimal("1"))

    assert sweeper.summaries_sweep() == []  # paused: re-enqueueing would only pause again

    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("0")  # no cap (or: the next day)
    assert sweeper.summaries_sweep() == [waiting.pk]
    assert just_arrived.pk not in sweeper.summaries_sweep()  # its own task is still queued


def test_the_sweeper_releases_a_stuck_regenerate_of_a_published_article(fake_anthropic, settings):
    old = timezone.now() - timedelta(seconds=settings.SUMMARY_STUCK_AFTER_SECONDS + 60)
    stuck = factories.make_published_article()
    fresh = factories.make_published_article()
    Article.objects.filter(pk=stuck.pk).update(summarizing_since=old)
    Article.objects.filter(pk=fresh.pk).update(summarizing_since=timezone.now())

    assert sweep_stuck_summaries.apply().result == 0  # nothing re-enqueued: the note is gone

    stuck.refresh_from_db(), fresh.refresh_from_db()
    assert stuck.summarizing_since is None and stuck.status == Status.PUBLISHED
    assert stuck.needs_attention and "regenerate again" in stuck.status_reason
    assert AuditEntry.objects.filter(article=stuck, action="summarize-sweep", automatic=True).exists()
    assert fresh.summarizing_since is not None and not fresh.needs_attention
    assert fake_anthropic.requests == []
    # Released, it can be regenerated again.
    assert summarize(stuck, force=True).result == "summarized"
