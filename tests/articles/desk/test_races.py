"""Desk actions racing each other and the periodic publisher on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.desk import services
from articles.models import Article, AuditEntry
from articles.stories import services as grouping
from tests import factories
from tests.articles.stories.events import RAIL, RAIL_FRENCH, RAIL_FRENCH_REWRITE
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

Status = Article.Status


def test_two_beat_ticks_publish_a_scheduled_article_once():
    article = factories.make_review_article()
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))

    first, second = race(services.publish_scheduled_due, services.publish_scheduled_due)

    assert sorted(first + second) == [article.pk]
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == Status.PUBLISHED and fresh.corrected_at is None
    assert AuditEntry.objects.filter(article=article, action="publish").count() == 1


def test_two_editors_retrying_one_failed_article_send_it_back_once():
    # Services trust their caller for permissions (the admin checks them), so plain users do.
    article = factories.make_article(status=Status.FAILED)
    editor, other_editor = factories.make_user(staff=True), factories.make_user(staff=True)

    results = race(
        lambda: services.article_retry(article=Article.objects.get(pk=article.pk), editor=editor),
        lambda: services.article_retry(article=Article.objects.get(pk=article.pk), editor=other_editor),
    )

    refused = [r for r in results if isinstance(r, services.DeskError)]
    assert len(refused) == 1 and Status.EXTRACTED in results, results
    assert Article.objects.get(pk=article.pk).status == Status.EXTRACTED
    assert AuditEntry.objects.filter(article=article, action="retry").count() == 1


def test_rejecting_while_the_scheduled_publisher_runs_never_leaves_a_rejected_article_live():
    editor = factories.make_user(staff=True)
    article = factories.make_review_article()
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))

    published, rejected = race(
        services.publish_scheduled_due,
        lambda: services.article_reject(
            article=Article.objects.get(pk=article.pk), editor=editor, reason="Wrong story."
        ),
    )

    assert rejected is None, rejected  # rejecting works from in_review and from published
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == Status.REJECTED and fresh.scheduled_for is None
    assert not Article.objects.published().filter(pk=article.pk).exists()


# --- stories ----------------------------------------------------------------------------------


def _assert_stories_consistent() -> None:
    """Every article in exactly one story that still exists and was not merged away; every
    story's counts what its articles say; every merged story empty, pointing at an open one."""
    from articles.models import Story

    assert not Article.objects.exclude(status=Status.NEW).filter(story__isnull=True).exists()
    assert not Article.objects.filter(story__merged_into__isnull=False).exists()
    for story in Story.objects.all():
        members = list(story.articles.values_list("source_id", flat=True))
        assert story.article_count == len(members), story
        assert story.source_count == len(set(members)), story
        if story.merged_into_id is not None:
            assert not members and story.merged_into.merged_into_id is None, story


def _story(articles: int):
    story = factories.make_story(articles=articles)
    return story, list(story.articles.order_by("pk"))


def _editors():
    """Two editors who may approve (the story services check it), by permission: a transactional
    test's flush may have left neither the Editors group nor the permission row."""
    return factories.make_editor_by_permission(), factories.make_editor_by_permission()


def test_two_editors_merging_one_story_into_two_others_end_with_it_in_exactly_one():
    from articles.desk import stories
    from articles.models import Story

    story, _ = _story(3)
    first, _ = _story(1)
    second, _ = _story(2)
    erin, ed = _editors()

    results = race(
        lambda: stories.story_merge(story=Story.objects.get(pk=story.pk), into=first, by=erin),
        lambda: stories.story_merge(story=Story.objects.get(pk=story.pk), into=second, by=ed),
    )

    refused = [r for r in results if isinstance(r, services.DeskError)]
    assert len(refused) == 1, results
    merged = Story.objects.get(pk=story.pk)
    assert merged.merged_into_id in (first.pk, second.pk)
    assert Story.objects.get(pk=merged.merged_into_id).article_count in (4, 5)
    assert AuditEntry.objects.filter(action="story_merge").count() == 1
    _assert_stories_consistent()


def test_two_editors_merging_two_stories_into_each_other_do_not_deadlock():
    from articles.desk import stories
    from articles.models import Story

    left, _ = _story(2)
    right, _ = _story(2)
    erin, ed = _editors()

    results = race(
        lambda: stories.story_merge(story=Story.objects.get(pk=left.pk), into=right, by=erin),
        lambda: stories.story_merge(story=Story.objects.get(pk=right.pk), into=left, by=ed),
    )

    assert sum(isinstance(r, services.DeskError) for r in results) == 1, results
    assert Story.objects.filter(merged_into__isnull=True, article_count=4).count() == 1
    _assert_stories_consistent()


def test_moving_an_article_while_another_editor_merges_its_story_leaves_it_in_one_story():
    from articles.desk import stories
    from articles.models import Story

    story, (article, *_) = _story(3)
    into, _ = _story(1)
    elsewhere, _ = _story(1)
    erin, ed = _editors()

    merged, moved = race(
        lambda: stories.story_merge(story=Story.objects.get(pk=story.pk), into=into, by=erin),
        lambda: stories.article_move(article=Article.objects.get(pk=article.pk), story=elsewhere, by=ed),
    )

    assert not isinstance(merged, Exception), merged
    placed = Article.objects.get(pk=article.pk).story_id
    if isinstance(moved, services.DeskError):  # the merge came first: the article left its story
        assert placed == into.pk and Story.objects.get(pk=into.pk).article_count == 4
    else:
        assert moved is not None and placed == elsewhere.pk
        assert Story.objects.get(pk=into.pk).article_count == 3
    _assert_stories_consistent()


def _reported(event: tuple[str, str], *, at, grouped: bool = True) -> Article:
    title, text = event
    article = factories.make_ungrouped_article(title=title, extracted_text=text, published_at=at)
    if grouped:
        grouping.article_group(article=article)
    return Article.objects.get(pk=article.pk)


def _merge(story_id: int, into_id: int, by):
    from articles.desk import stories
    from articles.models import Story

    return lambda: stories.story_merge(
        story=Story.objects.get(pk=story_id), into=Story.objects.get(pk=into_id), by=by
    )


def _group(article: Article):
    return lambda: grouping.article_group(article=Article.objects.get(pk=article.pk))


def test_grouping_a_report_of_a_story_being_merged_away_lands_it_in_the_kept_story():
    """Either order is right: grouped first, the report joins the merged story and moves with
    it; merged first, the kept story carries the merged one's words and takes the report.
    Interleaved, it would join a story already emptied."""
    erin, _ = _editors()
    start = timezone.now() - timedelta(days=60)
    for round_no in range(5):  # several rounds: one lucky interleaving proves nothing
        at = start + timedelta(days=5 * round_no)  # each round outside the others' windows
        english, french = _reported(RAIL, at=at), _reported(RAIL_FRENCH, at=at + timedelta(minutes=5))
        assert english.story_id != french.story_id  # two languages: grouping keeps them apart
        newcomer = _reported(RAIL_FRENCH_REWRITE, at=at + timedelta(minutes=30), grouped=False)

        merged, placed = race(_merge(french.story_id, english.story_id, erin), _group(newcomer))

        # A deadlock is raised in one of the two (PostgreSQL aborts one transaction).
        assert not isinstance(merged, Exception), merged
        assert isinstance(placed, grouping.GroupOutcome), placed
        assert placed.story_id in (english.story_id, french.story_id), f"round {round_no}: {placed}"
        assert Article.objects.get(pk=newcomer.pk).story_id == english.story_id, f"round {round_no}"
    _assert_stories_consistent()
