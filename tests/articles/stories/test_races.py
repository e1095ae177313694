"""Grouping under real concurrency on PostgreSQL: workers on different connections placing
articles of one event at the same moment end with one story (the advisory lock in
articles/stories/services.py serialises placements)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.models import Article, Story
from articles.stories import services
from tests import factories
from tests.articles.stories.events import RAIL, RAIL_REWRITE, WIRE
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def report(event: tuple[str, str], *, at, source=None) -> Article:
    title, text = event
    return factories.make_ungrouped_article(
        title=title, extracted_text=text, published_at=at, source=source or factories.make_source()
    )


def group(article: Article):
    return lambda: services.article_group(article=Article.objects.get(pk=article.pk))


def test_two_workers_grouping_two_reports_of_one_event_at_once_end_with_one_story():
    start = timezone.now() - timedelta(days=60)
    for round_no in range(ROUNDS):  # several rounds: one lucky interleaving proves nothing
        at = start + timedelta(days=5 * round_no)  # each round outside the others' windows
        first, second = report(RAIL, at=at), report(RAIL_REWRITE, at=at + timedelta(minutes=5))

        results = race(group(first), group(second))

        assert all(isinstance(r, services.GroupOutcome) for r in results), results
        assert sorted(r.created for r in results) == [False, True], f"round {round_no}: {results}"
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.story_id == second.story_id, f"round {round_no}: two stories for one event"
    assert Story.objects.count() == ROUNDS
    assert all(story.article_count == 2 for story in Story.objects.all())


def test_a_wire_text_reaching_three_outlets_at_once_is_one_original_and_two_copies():
    at = timezone.now() - timedelta(hours=2)
    articles = [report(WIRE, at=at + timedelta(minutes=n)) for n in range(3)]

    results = race(*(group(article) for article in articles))

    assert all(isinstance(r, services.GroupOutcome) for r in results), results
    assert sum(r.copy_of is None for r in results) == 1
    original = next(r.article_id for r in results if r.copy_of is None)
    assert all(r.copy_of in (None, original) for r in results)
    story = Story.objects.get()
    assert (story.article_count, story.source_count, story.lead_id) == (3, 3, original)


def test_one_article_grouped_twice_at_once_is_placed_once():
    article = report(RAIL, at=timezone.now() - timedelta(hours=1))

    results = race(group(article), group(article))

    assert sorted(r.placed for r in results) == [False, True], results
    assert Story.objects.count() == 1 and Story.objects.get().article_count == 1
