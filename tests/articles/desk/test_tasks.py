"""The desk's periodic task: publishing at the time an editor scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.desk import services
from articles.desk.tasks import publish_scheduled
from articles.models import Article, AuditEntry
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def article(db):
    return factories.make_review_article()


def test_the_periodic_task_publishes_scheduled_articles_once_their_time_has_come(article, editor):
    later = factories.make_review_article()
    soon = timezone.now() + timedelta(minutes=5)
    services.article_schedule(article=article, editor=editor, when=soon, based_on_version=1)
    services.article_schedule(article=later, editor=editor, when=soon + timedelta(days=1), based_on_version=1)

    assert publish_scheduled.apply().get() == []  # nothing is due yet
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))
    published = publish_scheduled.apply().get()

    assert published == [article.pk]
    article.refresh_from_db()
    later.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert article.scheduled_for is None
    assert later.status == Article.Status.IN_REVIEW
    entry = AuditEntry.objects.get(article=article, action="publish")
    assert entry.automatic is True
    assert entry.actor == editor  # who scheduled it approved it
    actions = AuditEntry.objects.filter(article=article).order_by("id").values_list("action", flat=True)
    assert list(actions) == ["schedule", "publish"]


def test_beat_runs_the_scheduled_publisher_every_minute(settings):
    from newsroom.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["publish-scheduled"]

    assert entry["schedule"] <= 60  # a scheduled time is met within a minute
    assert entry["task"] in app.tasks  # a typo in the name would silently never run
    assert app.tasks[entry["task"]].run is publish_scheduled.run
