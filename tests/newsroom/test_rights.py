"""Our own TDM declaration (newsroom/rights.py): the tdm-reservation header on every response,
cached pages and refusals included, and /.well-known/tdmrep.json saying the same."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/robots.txt", "/no-such-page/", "/websub/unknown/", "/feed/"])
def test_every_response_reserves_tdm_rights_by_default(client, url):
    response = client.get(url)
    assert response["tdm-reservation"] == "1"
    assert "tdm-policy" not in response


def test_a_page_answered_from_the_cache_carries_the_header_too(client):
    client.get("/")
    cached = client.get("/")
    assert cached["X-Page-Cache"] == "hit" and cached["tdm-reservation"] == "1"


def test_the_well_known_file_reserves_every_path_with_the_policy(client, settings):
    settings.TDM_POLICY_URL = "https://news.example.com/tdm-policy.json"
    response = client.get("/.well-known/tdmrep.json")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == [
        {"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://news.example.com/tdm-policy.json"}
    ]
    assert response["tdm-policy"] == "https://news.example.com/tdm-policy.json"


def test_waived_rights_say_0_everywhere_and_name_no_policy(client, settings):
    settings.TDM_RESERVATION = "0"
    settings.TDM_POLICY_URL = "https://news.example.com/tdm-policy.json"
    response = client.get("/.well-known/tdmrep.json")
    assert json.loads(response.content) == [{"location": "/*", "tdm-reservation": 0}]
    assert response["tdm-reservation"] == "0" and "tdm-policy" not in response
    assert client.get("/")["tdm-reservation"] == "0"
