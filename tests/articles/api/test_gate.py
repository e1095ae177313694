"""articles/api/gate.py: CORS, tokens, rate limits, HEAD and JSON errors, in front of the page
cache (which gives the API its ETags and 304s)."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from comments import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.PAGE_CACHE_SECONDS = 300
    return Client()


def test_get_answers_carry_open_cors_without_credentials(api_site, api):
    response = api.get("/api/v1/stories", headers={"Origin": "https://dashboard.example"})

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    assert not response.has_header("Access-Control-Allow-Credentials")


def test_a_preflight_allows_get_with_a_token_and_nothing_else(api, db):
    response = api.options(
        "/api/v1/stories",
        headers={
            "Origin": "https://dashboard.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert not response.has_header("Access-Control-Allow-Credentials")


def test_writing_methods_are_refused_with_json_and_no_cors(api, db):
    response = api.post("/api/v1/stories", {"title": "x"})

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert not response.has_header("Access-Control-Allow-Origin")


def test_an_unchanged_answer_is_304_from_the_page_cache_and_without(api_site, api, cached):
    for client in (api, cached):
        first = client.get("/api/v1/stories")
        etag = first["ETag"]

        again = client.get("/api/v1/stories", headers={"If-None-Match": etag})

        assert again.status_code == 304 and again.content == b""
        assert again["Access-Control-Allow-Origin"] == "*"


def test_head_answers_like_get_without_a_body(api_site, cached):
    get = cached.get("/api/v1/topics")
    head = cached.head("/api/v1/topics")

    assert head.status_code == 200 and head.content == b""
    assert head["ETag"] == get["ETag"]


def test_the_api_is_cached_and_a_token_holder_is_served_from_the_same_cache(api_site, cached):
    assert cached.get("/api/v1/stories")["X-Page-Cache"] == "miss"
    assert cached.get("/api/v1/stories")["X-Page-Cache"] == "hit"

    response = cached.get("/api/v1/stories", headers={"Authorization": f"Bearer {api_site.secret}"})

    assert response.status_code == 200 and response["X-Page-Cache"] == "hit"


def test_clients_over_the_limit_get_429_with_retry_after_per_address(api_site, api, settings):
    settings.API_RATE_LIMIT = "3/m"
    assert [api.get("/api/v1/topics").status_code for _ in range(3)] == [200, 200, 200]

    refused = api.get("/api/v1/topics")

    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Access-Control-Allow-Origin"] == "*"  # a browser app can read why
    # Another address has its own count.
    assert api.get("/api/v1/topics", REMOTE_ADDR="192.0.2.7").status_code == 200


def test_a_token_holder_has_the_higher_limit_of_their_own(api_site, api, settings):
    settings.API_RATE_LIMIT = "2/m"
    settings.API_TOKEN_RATE_LIMIT = "5/m"
    bearer = {"Authorization": f"Bearer {api_site.secret}"}
    assert [api.get("/api/v1/topics").status_code for _ in range(3)] == [200, 200, 429]

    statuses = [api.get("/api/v1/topics", headers=bearer).status_code for _ in range(6)]

    assert statuses == [200, 200, 200, 200, 200, 429]


@pytest.mark.parametrize("header", ["Bearer nr_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "nr_x"])
def test_a_credential_that_is_not_an_active_token_is_refused_with_401(api_site, api, header):
    response = api.get("/api/v1/stories", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_revoked_token_stops_working_at_once(api_site, cached):
    bearer = {"Authorization": f"Bearer {api_site.secret}"}
    assert cached.get("/api/v1/topics", headers=bearer).status_code == 200

    assert api_token_revoke(user=api_site.token.user, token_id=api_site.token.pk)

    assert cached.get("/api/v1/topics", headers=bearer).status_code == 401


def test_a_token_records_its_last_use_at_most_hourly(api_site, api, django_assert_num_queries):
    bearer = {"Authorization": f"Bearer {api_site.secret}"}
    api.get("/api/v1/topics", headers=bearer)
    used = ApiToken.objects.get(pk=api_site.token.pk).last_used_at
    assert used is not None

    with django_assert_num_queries(2):  # the token lookup and the topics; no write
        api.get("/api/v1/topics", headers=bearer)

    assert ApiToken.objects.get(pk=api_site.token.pk).last_used_at == used


def test_a_token_of_a_deactivated_account_is_refused(api_site, api):
    other, secret = api_token_create(user=api_site.token.user, name="second")
    type(other.user).objects.filter(pk=other.user_id).update(is_active=False)

    assert api.get("/api/v1/topics", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_nul_in_the_query_is_refused_with_a_json_error(api, db):
    response = api.get("/api/v1/search?q=%00")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "NUL" in response.json()["message"]


def test_pages_outside_the_api_are_left_alone(api, db):
    response = api.get("/", headers={"Origin": "https://elsewhere.example"})

    assert not response.has_header("Access-Control-Allow-Origin")
    assert api.options("/").status_code != 204


def test_cached_answers_count_against_the_limit_too(api_site, cached, settings):
    settings.API_RATE_LIMIT = "3/m"

    statuses = [cached.get("/api/v1/topics").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis server (REDIS_URL unset)")
def test_on_redis_a_cached_answer_is_counted_in_the_page_cache_lookup(
    api_site, cached, settings, monkeypatch
):
    settings.API_RATE_LIMIT = "1000/d"  # one window, whose key cannot change during the test
    cached.get("/api/v1/topics")  # stored

    def no_second_round_trip(*args, **kwargs):
        raise AssertionError("counted in a round trip of its own")

    monkeypatch.setattr(ratelimit, "count_uses", no_second_round_trip)
    response = cached.get("/api/v1/topics", REMOTE_ADDR="192.0.2.9")

    assert response.status_code == 200 and response["X-Page-Cache"] == "hit"
    (window,) = ratelimit.windows(scope="api", ident="ip:192.0.2.9", spec=settings.API_RATE_LIMIT)
    assert cache.get(window.key) == 1


def test_a_cache_outage_lets_api_requests_through(api_site, api, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(ratelimit, "count_uses", down)

    assert api.get("/api/v1/topics").status_code == 200
