"""articles/reader/invalidation.py for stories: a story change (grouping placed an article, an
editor reshaped stories) retires exactly the cached pages that show the story, on commit."""

from __future__ import annotations

import pytest

from articles.models import Article, Story, story_changed
from articles.reader.invalidation import story_paths
from tests import factories

from .conftest import hours_ago

pytestmark = pytest.mark.django_db


def _cached(client, paths: list[str]) -> None:
    for path in paths:
        assert client.get(path).status_code == 200, path
        assert client.get(path)["X-Page-Cache"] == "hit", path


def _showing(rail) -> list[str]:
    """Every page that shows the rail story."""
    return [
        "/",
        rail.story.get_absolute_url(),
        rail.gazette.get_absolute_url(),
        rail.tribune.get_absolute_url(),
        rail.topic.get_absolute_url(),
        f"{rail.topic.get_absolute_url()}feed/",
        rail.gazette.source.get_absolute_url(),
        rail.tribune.source.get_absolute_url(),
        "/feed/",
        "/feed/atom/",
        "/feed.json",
        "/sitemap.xml",
        # The JSON API (articles/api/).
        f"/api/v1/stories/{rail.story.slug}",
        f"/api/v1/articles/{rail.gazette.slug}",
        f"/api/v1/articles/{rail.tribune.slug}",
        "/api/v1/stories",
        "/api/v1/articles",
    ]


@pytest.fixture
def elsewhere(db) -> list[str]:
    """Pages that show another story only."""
    harbour = factories.make_topic("Harbour")
    ferry = factories.publish(title="Ferry timetable changes", topics=[harbour])
    return [
        ferry.get_absolute_url(),
        harbour.get_absolute_url(),
        ferry.source.get_absolute_url(),
        "/corrections/",
        f"/api/v1/articles/{ferry.slug}",
        "/api/v1/topics",
        "/api/v1/corrections",
    ]


def test_a_new_source_in_a_story_retires_every_page_showing_it_and_no_other(
    client, rail, elsewhere, django_capture_on_commit_callbacks
):
    _cached(client, _showing(rail) + elsewhere)

    with django_capture_on_commit_callbacks(execute=True):
        factories.make_article(
            story=rail.story, source=factories.make_source(name="Evening Star"), published_at=hours_ago(1)
        )
        story_changed.send(sender=Story, story_ids=[rail.story.pk])

    for path in _showing(rail):
        response = client.get(path)
        assert response["X-Page-Cache"] == "miss", path
    for path in ("/", rail.story.get_absolute_url(), rail.gazette.get_absolute_url(), "/feed/"):
        assert "Evening Star" in client.get(path).content.decode(), path
    assert "Evening Star" in client.get(f"/api/v1/stories/{rail.story.slug}").content.decode()
    for path in elsewhere:
        assert client.get(path)["X-Page-Cache"] == "hit", path


def test_a_change_to_a_story_not_on_the_site_leaves_the_cached_site_alone(
    client, rail, django_capture_on_commit_callbacks
):
    hidden = factories.make_story(articles=2)
    _cached(client, _showing(rail))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        factories.make_article(story=hidden)
        story_changed.send(sender=Story, story_ids=[hidden.pk])

    assert callbacks
    for path in _showing(rail):
        assert client.get(path)["X-Page-Cache"] == "hit", path


def test_a_story_whose_only_summary_moved_away_is_no_longer_served_from_the_cache(
    client, rail, django_capture_on_commit_callbacks
):
    moving = factories.publish(
        title="Trams and light rail, explained", source=factories.make_source(name="Metro")
    )
    old_story = moving.story
    _cached(client, [old_story.get_absolute_url(), rail.story.get_absolute_url()])

    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.filter(pk=moving.pk).update(story=rail.story)
        old_story.recount()
        rail.story.recount()
        story_changed.send(sender=Story, story_ids=[old_story.pk, rail.story.pk])

    assert client.get(old_story.get_absolute_url()).status_code == 404
    assert "Metro" in client.get(rail.story.get_absolute_url()).content.decode()


def test_nothing_is_retired_before_the_change_commits(client, rail, django_capture_on_commit_callbacks):
    _cached(client, _showing(rail))

    # Without executing the on-commit callbacks (as if the transaction rolled back)...
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.make_article(story=rail.story, source=factories.make_source(name="Evening Star"))
        story_changed.send(sender=Story, story_ids=[rail.story.pk])

    assert callbacks, "the invalidation waits for the commit"
    for path in _showing(rail):
        assert client.get(path)["X-Page-Cache"] == "hit", path


@pytest.mark.parametrize("size", [3, 30])
def test_finding_the_pages_of_a_story_costs_two_queries_whatever_its_size(
    rail, size, django_assert_num_queries
):
    for n in range(size):
        article = factories.publish(title=f"Light rail, part {n}", story=rail.story)
        article.topics.add(factories.make_topic(f"Topic {n}"))

    with django_assert_num_queries(2):
        paths = story_paths([rail.story.pk])

    assert f"/topics/topic-{size - 1}/" in paths and "/" in paths
