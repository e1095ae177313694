"""A story as the reader site meets one: several sources, a first report that is not on the
site, a copy, and two summaries on the site."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from articles.models import Article, Story
from tests import factories


def hours_ago(n: float):
    return timezone.now() - timedelta(hours=n)


def publish_in(
    story: Story | None, *, source, title: str, takeaway: str, reported: float, live: float
) -> Article:
    """An article of `story` from `source`, reported `reported` hours ago and put on the site
    `live` hours ago, whose summary says `takeaway`."""
    article = factories.publish(
        title=title,
        story=story,
        source=source,
        published_at=hours_ago(reported),
        ago=timedelta(hours=live),
        url=f"https://{source.slug}.example.com/{title.lower().replace(' ', '-')}",
    )
    article.summaries.update(key_takeaway=takeaway)
    if story is not None:
        story.recount()
    return article


@pytest.fixture
def rail(db):
    """ "Council approves light-rail line", by four sources:

    - the Wire Service reported it first (5 h ago): extracted, never summarised (the story's
      summary covers it), so it does not lead: the lead is the earliest original that carries
      a summary, the Gazette;
    - the City Gazette (4 h ago), on the site for 3 h;
    - the Harbour Herald reposted the Gazette's text word for word (a copy, 3 h ago);
    - the Valley Tribune (2 h ago), on the site for 1 h, in the topic Transport.
    """
    transport = factories.make_topic("Transport")
    wire, gazette_source, herald, tribune_source = (
        factories.make_source(name=name)
        for name in ("Wire Service", "City Gazette", "Harbour Herald", "Valley Tribune")
    )
    story = factories.make_story(title="Council approves light-rail line")
    lead = factories.make_article(
        story=story,
        source=wire,
        title="Council approves light-rail line",
        url="https://wire.example.com/rail",
        published_at=hours_ago(5),
    )
    gazette = publish_in(
        story,
        source=gazette_source,
        title="Gazette: the council says yes to light rail",
        takeaway="The Gazette's summary: a 2.4 billion dollar line.",
        reported=4,
        live=3,
    )
    copy = factories.make_article(
        story=story,
        source=herald,
        duplicate_of=gazette,
        title="Gazette: the council says yes to light rail",
        url="https://herald.example.com/rail-repost",
        published_at=hours_ago(3),
    )
    tribune = publish_in(
        story,
        source=tribune_source,
        title="Tribune: light rail wins the vote",
        takeaway="The Tribune's summary: the vote was close.",
        reported=2,
        live=1,
    )
    tribune.topics.add(transport)
    story.refresh_from_db()
    assert story.lead_id == gazette.pk and story.source_count == 4
    return SimpleNamespace(
        story=story, wire=lead, gazette=gazette, copy=copy, tribune=tribune, topic=transport
    )
