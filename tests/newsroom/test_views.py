"""newsroom/views.py: the health check and the styled error pages (they must work when the
database or the cache does not)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, OperationalError
from django.test import override_settings

pytestmark = pytest.mark.django_db

# Port 9 (discard): nothing listens there.
DOWN = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
UP = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "healthz-test"}


def test_healthz_reports_ok_when_database_and_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "pages_cache": "ok"}


def test_healthz_names_the_cache_when_it_is_down(client):
    with override_settings(CACHES={"default": DOWN, "pages": UP}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]


def test_healthz_names_the_page_cache_when_its_own_redis_is_down(client):
    with override_settings(CACHES={"default": UP, "pages": DOWN}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["pages_cache"]
    assert response.json()["checks"]["cache"] == "ok"


def test_healthz_names_the_database_when_it_is_down(client, monkeypatch):
    class DownConnection:
        def cursor(self):
            raise OperationalError("could not connect to server")

    # Pure logic: which part is named. Taking a real database down mid-test is the fault suite's job.
    monkeypatch.setattr("newsroom.views.connection", DownConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["cache"] == "ok"


@override_settings(DEBUG=False)
def test_a_server_error_gives_the_styled_500_without_a_traceback(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("articles.reader.views.stories.story_listing", boom)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "secret internals" not in html and "Traceback" not in html


@override_settings(DEBUG=False)
def test_a_database_outage_gives_the_503_page(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("articles.reader.views.stories.story_listing", down)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Back in a moment" in response.content.decode()


@override_settings(DEBUG=False)
def test_an_integrity_error_is_a_bug_and_gets_the_500_page_not_the_outage_page(client, monkeypatch):
    def broken(*args, **kwargs):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr("articles.reader.views.stories.story_listing", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
