"""Summary workers racing each other and the sweeper on PostgreSQL: each article ends with one
paid-for version and one status, whoever finishes last."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from articles.models import Article, AuditEntry, ModelCall, StaleState, Summary
from articles.summarizers import sweeper, workflow
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

Status = Article.Status


def presume_dead(article: Article) -> None:
    """Age the current claim past SUMMARY_STUCK_AFTER_SECONDS, as if its worker had died."""
    from django.conf import settings

    old = timezone.now() - timedelta(seconds=settings.SUMMARY_STUCK_AFTER_SECONDS + 60)
    Article.objects.filter(pk=article.pk).update(status_changed_at=old)


def test_a_worker_released_by_the_sweeper_cannot_store_over_the_worker_that_took_over(fake_anthropic):
    article = factories.make_article()
    in_call, resume = threading.Event(), threading.Event()

    def slow_first_reply(body):
        in_call.set()
        assert resume.wait(30)
        return None  # then the usual valid summary

    fake_anthropic.script.append(slow_first_reply)
    late: list = []

    def first_worker() -> None:
        try:
            late.append(workflow.article_summarize(article_id=article.pk))
        finally:
            connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    assert in_call.wait(30)
    # The first worker is presumed dead while its model call hangs: the sweeper releases the
    # article and a second worker summarises it.
    presume_dead(article)
    assert sweeper.summaries_sweep() == [article.pk]
    second = workflow.article_summarize(article_id=article.pk)
    resume.set()
    first.join(30)

    assert second.result == "summarized"
    assert late[0].result == "skipped" and "released" in late[0].detail
    assert Summary.objects.filter(article=article).count() == 1  # the late version rolled back
    assert ModelCall.objects.filter(article=article).count() == 2  # both calls were paid for
    article.refresh_from_db()
    assert article.status == Status.IN_REVIEW
    assert AuditEntry.objects.filter(article=article, to_status=Status.IN_REVIEW).count() == 1


def test_the_sweeper_and_a_finishing_worker_racing_on_one_claim_have_one_winner(settings):
    article = factories.make_article(status=Status.SUMMARIZING)
    presume_dead(article)
    token = Article.objects.get(pk=article.pk).status_changed_at
    worker_copy = Article.objects.get(pk=article.pk)

    def worker_finishes():
        worker_copy.transition_to(Status.IN_REVIEW, reason="stored", token=token)
        return "worker"

    results = race(sweeper.summaries_sweep, worker_finishes)

    swept, finished = results
    assert (swept == [article.pk]) != (finished == "worker"), results
    if finished != "worker":
        assert isinstance(finished, StaleState)
    article.refresh_from_db()
    assert article.status == (Status.EXTRACTED if swept else Status.IN_REVIEW)


def test_two_workers_claiming_a_backlog_for_message_batches_never_share_an_article(settings):
    articles = [factories.make_article() for _ in range(6)]
    copies = [[Article.objects.get(pk=a.pk) for a in articles] for _ in range(2)]

    def claim_all(mine):
        return [a.pk for a in mine if workflow._claim(a, reason="In a Message Batch.")]

    first, second = race(lambda: claim_all(copies[0]), lambda: claim_all(copies[1]))

    assert sorted(first + second) == sorted(a.pk for a in articles)
    assert not set(first) & set(second)
    assert Article.objects.filter(status=Status.SUMMARIZING).count() == 6
