"""The Celery wiring: every scheduled or routed task name points at a task that exists, so
moving or renaming a task can never silently stop a periodic job or reroute its queue."""

from __future__ import annotations

import pytest
from django.conf import settings

from newsroom.celery import app

# Loading the worker's modules runs Celery's Django fixup, whose system checks read the database.
pytestmark = pytest.mark.django_db


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks)


def test_every_periodic_job_runs_a_registered_task():
    missing = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in registered_tasks()
    }
    assert missing == {}


def test_every_routed_task_name_is_registered():
    routed = {name for name in settings.CELERY_TASK_ROUTES if not name.endswith("*")}
    assert routed - registered_tasks() == set()


def test_task_names_survive_the_move_into_subpackages():
    # Messages already in the broker carry these names; a worker must still run them.
    assert {
        "articles.tasks.poll_due_sources",
        "articles.tasks.fetch_source",
        "articles.tasks.extract_article",
        "articles.tasks.sweep_unextracted_articles",
        "articles.tasks.summarize_article",
        "articles.tasks.sweep_stuck_summaries",
        "articles.tasks.poll_summary_batches",
        "articles.tasks.publish_scheduled",
    } <= registered_tasks()
