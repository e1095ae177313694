"""articles/api/docs.py: the browsable docs, made on the server from the OpenAPI document."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_docs_describe_every_operation_and_schema_of_the_document(api):
    document = api.get("/api/v1/openapi.json").json()

    page = api.get("/api/v1/docs").content.decode()

    for path in document["paths"]:
        assert f"GET</span> {path}" in page, path
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page, name
    assert 'href="/api/v1/openapi.json"' in page
    assert "curl -s http://" in page


def test_every_try_it_link_answers_json(api_site, api):
    page = api.get("/api/v1/docs").content.decode()
    examples = re.findall(r'Try it: <a href="([^"]+)"', page)

    assert len(examples) >= 5
    for url in examples:
        response = api.get(url)
        assert response.status_code == 200 and response["Content-Type"].startswith("application/json"), url


def test_the_docs_run_no_third_party_or_inline_code_under_the_site_policy(api):
    response = api.get("/api/v1/docs")
    page = response.content.decode()

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all('src="/static/' in tag for tag in scripts), scripts  # the site's own only
    assert not re.search(r'(src|href)="(https?:)?//(?!127\.0\.0\.1)', page.split("<main", 1)[0])
    assert " style=" not in page and "<style" not in page
