"""articles/reader/invalidation.py for stories: a story change (grouping placed an article, an
editor reshaped stories) retires exactly the cached pages that show the story, on commit."""

from __future__ import annotations

import pytest

from articles.models import Article, OpenQuestion, Story, story_changed
from articles.reader.invalidation import story_detail_paths, story_paths
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


# --- Timeline, follow-ups and updates ------------------------------------------------------------


def _story_details(rail) -> list[str]:
    """The pages that show the rail story's timeline and follow-ups (and its JSON)."""
    return [
        rail.story.get_absolute_url(),
        rail.gazette.get_absolute_url(),
        rail.tribune.get_absolute_url(),
        f"/api/v1/stories/{rail.story.slug}",
    ]


def _listings(rail) -> list[str]:
    """Pages that show the rail story's card, not its timeline or follow-ups."""
    return [
        "/",
        rail.topic.get_absolute_url(),
        "/feed/",
        "/api/v1/stories",
        f"/api/v1/articles/{rail.gazette.slug}",
    ]


def test_a_new_timeline_entry_retires_the_storys_own_pages_and_nothing_else(
    client, rail, elsewhere, django_capture_on_commit_callbacks
):
    factories.make_story_update(rail.story, "The council approved the line.", happened_at=hours_ago(4))
    _cached(client, _story_details(rail) + _listings(rail) + elsewhere)

    with django_capture_on_commit_callbacks(execute=True):
        factories.make_story_update(rail.story, "Hearings are scheduled for March.")

    for path in _story_details(rail):
        assert client.get(path)["X-Page-Cache"] == "miss", path
    assert "Hearings are scheduled for March." in client.get(rail.story.get_absolute_url()).content.decode()
    assert (
        "Hearings are scheduled for March."
        in client.get(f"/api/v1/stories/{rail.story.slug}").content.decode()
    )
    for path in _listings(rail) + elsewhere:
        assert client.get(path)["X-Page-Cache"] == "hit", path


def test_accepting_an_answer_retires_both_stories_pages_and_a_proposal_retires_none(
    client, rail, elsewhere, django_capture_on_commit_callbacks
):
    later = factories.publish(title="Hearings begin on the light-rail route")
    question = OpenQuestion.objects.create(story=rail.story, text="When will hearings begin?")
    answering = [later.story.get_absolute_url(), later.get_absolute_url()]
    _cached(client, _story_details(rail) + answering + _listings(rail) + elsewhere)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        question.transition_to(OpenQuestion.Status.PROPOSED, answer_story=later.story, answer_article=later)
    assert callbacks == []
    for path in _story_details(rail) + answering:
        assert client.get(path)["X-Page-Cache"] == "hit", path

    with django_capture_on_commit_callbacks(execute=True):
        question.transition_to(OpenQuestion.Status.ACCEPTED)

    for path in _story_details(rail) + answering:
        assert client.get(path)["X-Page-Cache"] == "miss", path
    assert "Follow-up:" in client.get(rail.story.get_absolute_url()).content.decode()
    assert "Follows up:" in client.get(later.get_absolute_url()).content.decode()
    for path in _listings(rail) + elsewhere:
        assert client.get(path)["X-Page-Cache"] == "hit", path


def test_a_new_published_version_shows_its_update_line_at_once(
    client, rail, editor, django_capture_on_commit_callbacks
):
    _cached(client, _story_details(rail))

    with django_capture_on_commit_callbacks(execute=True):
        factories.publish_story_summary(
            rail.gazette,
            [rail.gazette, rail.tribune],
            by=editor,
            update_line="The Tribune reports a close vote.",
        )

    for path in (rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        response = client.get(path)
        assert response["X-Page-Cache"] == "miss", path
        assert "The Tribune reports a close vote." in response.content.decode()


def test_a_timeline_entry_retires_the_stored_fragment_of_the_article_that_shows_it(
    client, rail, settings, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 300
    client.force_login(factories.make_commenter())
    factories.make_story_update(rail.story, "The council approved the line.", happened_at=hours_ago(4))
    url = rail.gazette.get_absolute_url()
    assert "Hearings are scheduled" not in client.get(url).content.decode()  # stored now

    with django_capture_on_commit_callbacks(execute=True):
        factories.make_story_update(rail.story, "Hearings are scheduled for March.")

    assert "Hearings are scheduled for March." in client.get(url).content.decode()


@pytest.mark.parametrize("size", [1, 10])
def test_finding_the_pages_of_a_storys_details_costs_two_queries(rail, size, django_assert_num_queries):
    for n in range(size):
        factories.publish(title=f"Light rail, part {n}", story=rail.story)

    with django_assert_num_queries(2):
        paths = story_detail_paths([rail.story.pk, None])

    assert rail.story.get_absolute_url() in paths and len(paths) == 2 + 2 + size
