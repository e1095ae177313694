"""The summary tasks' limits and routing."""

from __future__ import annotations

import pytest

from articles.models import Article
from articles.summarizers.tasks import (
    SUMMARY_TIME_LIMIT,
)

pytestmark = pytest.mark.django_db

Status = Article.Status


def test_time_limits_stay_below_the_visibility_timeout_and_the_stuck_age(settings):
    assert 2 * settings.SUMMARY_MODEL_TIMEOUT_SECONDS < SUMMARY_TIME_LIMIT
    assert SUMMARY_TIME_LIMIT < settings.SUMMARY_STUCK_AFTER_SECONDS
    assert SUMMARY_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_ROUTES["articles.tasks.summarize_article"]["queue"] == "summaries"
