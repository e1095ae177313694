"""articles/api/queries.py: each endpoint's query count is fixed, from 3 items to 30."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles.models import Summary
from tests import factories

pytestmark = pytest.mark.django_db


def build(n: int, start: int = 0):
    """`n` stories of two published articles each, with topics, a copy in each, and a correction."""
    editor = factories.make_user(staff=True)
    topic = factories.make_topic("Transport")  # get_or_create: the same topic each time
    stories = []
    for i in range(start, start + n):
        story = factories.make_story(title=f"Event {i}")
        first = factories.publish(
            title=f"Event {i} first", story=story, topics=[topic], ago=timedelta(minutes=i)
        )
        factories.publish(title=f"Event {i} second", story=story, ago=timedelta(minutes=i))
        factories.make_article(story=story, duplicate_of=first, url=f"https://copy.example.com/{i}")
        correction = Summary.create_version(article=first, **factories.summary_fields(kind="editor"))
        first.refresh_from_db()
        first.publish(correction, by=editor)
        stories.append(story)
    return stories


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize(
    ("url", "budget"),
    [
        ("/api/v1/stories?limit=100", 3),
        ("/api/v1/articles?limit=100", 2),
        ("/api/v1/search?q=event", 4),
        ("/api/v1/corrections", 2),
        ("/api/v1/topics", 1),
        ("/api/v1/sources", 1),
    ],
)
def test_a_list_costs_the_same_queries_for_3_items_as_for_30(api, url, budget):
    build(3)
    few = queries(api, url)
    build(27, start=3)
    many = queries(api, url)

    assert few == many and many <= budget


def test_a_story_and_an_article_cost_a_fixed_number_of_queries(api):
    story = build(1)[0]
    factories.make_article(story=story)  # coverage of any length is one query
    article = story.articles.filter(status="published").first()

    assert queries(api, f"/api/v1/stories/{story.slug}") <= 5  # with its timeline and follow-ups
    assert queries(api, f"/api/v1/articles/{article.slug}") <= 3


def _cited_story(n: int):
    """A story of `n` sources on the site whose lead carries a story summary citing all of them,
    with `n` timeline entries and `n` follow-ups each way."""
    story = factories.make_story(title=f"Cited story of {n}")
    members = [factories.publish(title=f"Report {k} of {n}", story=story) for k in range(n)]
    factories.publish_story_summary(members[0], members, update_line="More sources.")
    for k in range(n):
        factories.make_story_update(story, f"Development {k}")
        later = factories.publish(title=f"Later {k} of {n}").story
        factories.make_follow_up(story, answered_by=later)
        earlier = factories.publish(title=f"Earlier {k} of {n}").story
        factories.make_follow_up(earlier, answered_by=story)
    return story


def test_a_story_costs_the_same_with_1_and_10_sources_timeline_entries_and_follow_ups(api):
    counts = []
    for n in (1, 10):
        story = _cited_story(n)
        counts.append(queries(api, f"/api/v1/stories/{story.slug}"))
        body = api.get(f"/api/v1/stories/{story.slug}").json()
        developments = [e for e in body["timeline"] if e["text"].startswith("Development ")]
        assert len(body["summary"]["sources"]) == n and len(developments) == n
        assert len(body["follow_ups"]) == n and len(body["follows_up"]) == n

    assert counts[0] == counts[1] <= 5
