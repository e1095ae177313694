"""The Celery app: configured from Django settings (CELERY_* names), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")

app = Celery("newsroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each installed app's tasks.py, and the articles app's subpackages, which each own theirs.
app.autodiscover_tasks()
app.autodiscover_tasks(
    ["articles.ingest", "articles.summarizers", "articles.desk", "articles.reader", "articles.stories"]
)
