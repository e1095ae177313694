"""`manage.py stories_regroup`: clusters the migration's one-article stories through the
production code path, keeps every editor's decision, and changes nothing when run again."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.models import Article, Story, StoryTerm, TermCount
from tests import factories
from tests.articles.stories.events import MUSEUM, MUSEUM_REWRITE, RAIL, RAIL_REWRITE, WIRE

pytestmark = pytest.mark.django_db


def archived(event: tuple[str, str], *, hours: float, days_ago: float = 3, **fields) -> Article:
    """An article from before grouping existed: a story of its own, as the migration left it."""
    title, text = event
    published = timezone.now() - timedelta(days=days_ago) + timedelta(hours=hours)
    fields.setdefault("status", Article.Status.PUBLISHED)
    return factories.make_article(title=title, extracted_text=text, published_at=published, **fields)


def regroup(*args: str) -> str:
    out = StringIO()
    call_command("stories_regroup", *args, stdout=out)
    return out.getvalue()


def stories_of(*articles: Article) -> list[int]:
    return [Article.objects.get(pk=a.pk).story_id for a in articles]


def test_regrouping_the_archive_clusters_the_same_events_and_removes_emptied_stories():
    rail, museum = archived(RAIL, hours=0), archived(MUSEUM, hours=1)
    rail_again, museum_again = archived(RAIL_REWRITE, hours=2), archived(MUSEUM_REWRITE, hours=3)
    assert Story.objects.count() == 4

    output = regroup()

    rail_story, museum_story, rail_again_story, museum_again_story = stories_of(
        rail, museum, rail_again, museum_again
    )
    assert rail_story == rail_again_story != museum_story == museum_again_story
    # The first report's story row is kept (its URL stays valid); the emptied ones are gone.
    assert (rail_story, museum_story) == (rail.story_id, museum.story_id)
    assert set(Story.objects.values_list("pk", flat=True)) == {rail_story, museum_story}
    story = Story.objects.get(pk=rail_story)
    assert (story.article_count, story.source_count, story.lead_id) == (2, 2, rail.pk)
    assert "Re-grouped 4 articles into 2 stories: 2 moved, 0 copies, 2 empty stories removed" in output
    assert TermCount.objects.get(term="").documents == 4
    assert StoryTerm.objects.filter(story_id=rail_story).exists()


def test_regrouping_twice_changes_nothing_the_second_time():
    articles = [
        archived(event, hours=n) for n, event in enumerate((RAIL, MUSEUM, RAIL_REWRITE, MUSEUM_REWRITE))
    ]
    regroup("--batch-size", "1")  # one transaction per article: the same result as one batch
    before = (
        stories_of(*articles),
        list(Story.objects.order_by("pk").values_list("pk", "article_count", "lead_id", "hub_scores")),
    )
    terms = sorted(TermCount.objects.values_list("term", "documents"))
    # What the stories' hub scores hold is rebuilt by the replay, never added to.
    Story.objects.update(hub_scores=[0.9] * 10)

    output = regroup()

    assert (
        stories_of(*articles),
        list(Story.objects.order_by("pk").values_list("pk", "article_count", "lead_id", "hub_scores")),
    ) == before
    assert sorted(TermCount.objects.values_list("term", "documents")) == terms
    assert "0 moved, 0 copies, 0 empty stories removed" in output


def test_an_article_an_editor_split_out_is_not_merged_back():
    rail, rail_again = archived(RAIL, hours=0), archived(RAIL_REWRITE, hours=2)
    regroup()
    assert stories_of(rail, rail_again)[0] == stories_of(rail, rail_again)[1]
    # The editor splits the rewrite out into a story of its own (desk: story_locked), which is
    # indexed like any story, so it would be the first match for the report it left.
    split = Story.objects.create(title=RAIL_REWRITE[0], profile=Story.objects.get(pk=rail.story_id).profile)
    Article.objects.filter(pk=rail_again.pk).update(story=split, story_locked=True)
    split.recount()
    Story.objects.get(pk=rail.story_id).recount()
    StoryTerm.objects.bulk_create(
        StoryTerm(story=split, term=row.term, last_seen_at=row.last_seen_at)
        for row in StoryTerm.objects.filter(story_id=rail.story_id)
    )

    output = regroup()

    assert stories_of(rail, rail_again) == [rail.story_id, split.pk]
    assert "1 left where editors put them" in output


def test_a_story_an_editor_shaped_is_neither_dissolved_nor_merged():
    rail = archived(RAIL, hours=0)
    regroup()  # indexed: the story is a match for the next report of the event
    Story.objects.filter(pk=rail.story_id).update(editor_locked=True)
    rail_again = archived(RAIL_REWRITE, hours=2)

    regroup()

    assert stories_of(rail, rail_again) == [rail.story_id, rail_again.story_id]
    assert Story.objects.get(pk=rail.story_id).article_count == 1


def test_a_copy_follows_its_original_and_a_published_article_is_never_made_a_copy():
    original = archived(WIRE, hours=0)
    reprint = archived(("Ports shut as storm hits the north", WIRE[1]), hours=1)  # published, own summary
    copy = archived(WIRE, hours=2, status=Article.Status.EXTRACTED, duplicate_of=original)

    regroup()

    original.refresh_from_db()
    reprint.refresh_from_db()
    copy.refresh_from_db()
    assert original.story_id == reprint.story_id == copy.story_id
    assert reprint.duplicate_of_id is None and copy.duplicate_of_id == original.pk
    assert Story.objects.count() == 1


def test_since_leaves_older_articles_where_they_are():
    old_rail, old_rail_again = (
        archived(RAIL, hours=0, days_ago=30),
        archived(RAIL_REWRITE, hours=2, days_ago=30),
    )
    rail, rail_again = archived(RAIL, hours=0), archived(RAIL_REWRITE, hours=2)

    output = regroup("--since", "7")

    assert stories_of(rail)[0] == stories_of(rail_again)[0]
    assert stories_of(old_rail)[0] != stories_of(old_rail_again)[0]
    assert "Re-grouped 2 articles" in output


def test_since_must_be_a_positive_number_of_days():
    with pytest.raises(CommandError, match="positive"):
        regroup("--since", "0")
