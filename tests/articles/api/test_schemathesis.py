"""Property-based tests of the JSON API (issue #17): schemathesis reads the OpenAPI document
from the WSGI app and sends every operation generated input; no answer may be a 5xx, and every
answer must match the document (status code, content type, headers and body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from articles.models import Article, Story
from tests import factories

# Loaded when the module is imported, through the whole middleware stack (no database needed):
# schemathesis' fixture-based loader does not work with pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())


@pytest.fixture
def published(db, settings):
    """A few stories on the site, served through the real WSGI handler inside the test's
    transaction. The handler closes the database connection after each request, as in
    production; Django's own test client stops that for the request, and so do we."""
    settings.API_RATE_LIMIT = settings.API_TOKEN_RATE_LIMIT = "1000000/m"
    story = factories.make_story(title="Light rail")
    lead = factories.publish(
        title="Council approves light rail", story=story, topics=[factories.make_topic("Transport")]
    )
    other = factories.publish(title="Tribune: the rail vote was close", story=story)
    # A story summary with citations, a disagreement and an update line; a timeline; a follow-up.
    factories.publish_story_summary(
        lead,
        [lead, other],
        disagreements=[
            {"fact": "the vote", "claims": [{"source": 1, "says": "7-2"}, {"source": 2, "says": "6-3"}]}
        ],
        update_line="The Tribune reports the vote count.",
    )
    factories.make_story_update(story, "The council approved the line.")
    ferry = factories.publish(title="Ferry timetable changes")
    factories.make_follow_up(story, answered_by=ferry.story)
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_schema_and_never_fails(case, published):
    # A cursor is opaque and signed: no schema can describe the ones the server issued, so a
    # generated one is refused with 400 by design (test_router.py covers cursors).
    excluded = [positive_data_acceptance] if "cursor" in (case.query or {}) else []
    # The WSGI test client does not decode gzip or brotli bodies.
    case.call_and_validate(headers={"Accept-Encoding": "identity"}, excluded_checks=excluded)


def test_every_story_and_article_on_the_site_conforms_to_its_schema(published):
    # Generated slugs almost never name a real story, so the full answers (citations, timeline,
    # follow-ups both ways) are checked here, each against the document.
    for template, model in (("/api/v1/stories/{slug}", Story), ("/api/v1/articles/{slug}", Article)):
        operation = schema[template]["GET"]
        for slug in model.objects.values_list("slug", flat=True):
            case = operation.Case(path_parameters={"slug": slug})
            case.call_and_validate(headers={"Accept-Encoding": "identity"})
