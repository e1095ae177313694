"""DatabaseUnavailableMiddleware: a lost database connection is a styled 503, never a 500."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from newsroom.middleware import DatabaseUnavailableMiddleware


def database_gone(request: HttpRequest) -> HttpResponse:
    raise OperationalError("terminating connection due to administrator command")


def broken_code(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug, not an outage")


urlpatterns = [path("db-gone/", database_gone), path("bug/", broken_code)]


@pytest.mark.urls(__name__)
def test_a_view_that_loses_its_database_answers_a_styled_503_with_retry_after():
    response = Client(raise_request_exception=False).get("/db-gone/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert 'class="site-header"' in body
    assert "Back in a moment" in body
    assert "Traceback" not in body


@pytest.mark.urls(__name__)
def test_other_exceptions_are_left_to_the_ordinary_500():
    response = Client(raise_request_exception=False).get("/bug/")

    assert response.status_code == 500


@pytest.mark.parametrize("error", [OperationalError("gone"), InterfaceError("connection already closed")])
def test_both_database_error_kinds_are_caught(rf, error):
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())

    response = middleware.process_exception(rf.get("/"), error)

    assert response is not None and response.status_code == 503
