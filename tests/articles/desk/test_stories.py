"""Editors shaping stories (articles/desk/stories.py): merge, move, split and lead, each
audited, locked against automatic grouping, refused to anyone but an editor, and followed by
grouping: new reports join the stories as the editor shaped them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from articles.desk import stories
from articles.desk.services import DeskError
from articles.models import Article, AuditEntry, Story, StoryTerm, story_changed
from articles.stories.services import article_group
from tests import factories
from tests.articles.stories.events import (
    HEARING,
    HEARING_REWRITE,
    RAIL,
    RAIL_FRENCH,
    RAIL_FRENCH_REWRITE,
    RAIL_REWRITE,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def hours_ago(n: float):
    return timezone.now() - timedelta(hours=n)


def story_with(*titles: str, start: float = 10) -> tuple[Story, list[Article]]:
    """A story whose articles are published an hour apart, oldest first, from separate sources."""
    story = factories.make_story()
    articles = [
        factories.make_article(story=story, title=title, published_at=hours_ago(start - i))
        for i, title in enumerate(titles)
    ]
    story.refresh_from_db()
    return story, articles


def copy_of(original: Article, **fields) -> Article:
    return factories.make_article(story=original.story, duplicate_of=original, title=original.title, **fields)


def fresh(obj):
    obj.refresh_from_db()
    return obj


@pytest.fixture
def announced():
    """Every story_changed signal sent during the test, as its story_ids."""
    sent: list[list[int]] = []

    def receiver(sender, story_ids, **kwargs):
        sent.append(story_ids)

    story_changed.connect(receiver)
    yield sent
    story_changed.disconnect(receiver)


# --- merge ------------------------------------------------------------------------------------


def test_merging_moves_every_article_into_the_kept_story_and_empties_the_other(editor):
    kept, (a, b) = story_with("Bridge closes", "Bridge closed for repairs")
    merged, (c, d) = story_with("Bridge to shut", "Repairs shut the bridge")

    stories.story_merge(story=merged, into=kept, by=editor, reason="Same bridge closure.")

    assert set(fresh(kept).articles.all()) == {a, b, c, d}
    assert (kept.article_count, kept.source_count) == (4, 4)
    merged = fresh(merged)
    assert merged.articles.count() == 0 and merged.article_count == 0
    assert merged.merged_into == kept  # its URL leads readers to the kept story


def test_merging_locks_the_kept_story_and_records_the_editor_the_reason_and_the_ids(editor):
    kept, _ = story_with("Bridge closes")
    merged, (c, d) = story_with("Bridge to shut", "Repairs shut the bridge")

    stories.story_merge(story=merged, into=kept, by=editor, reason="Same bridge closure.")

    assert fresh(kept).editor_locked is True
    entry = AuditEntry.objects.get(action="story_merge")
    assert entry.actor == editor and entry.reason == "Same bridge closure."
    assert (entry.target_type, entry.target_id) == ("articles.story", str(kept.pk))
    assert entry.details == {"from_story": merged.pk, "to_story": kept.pk, "articles": [c.pk, d.pk]}


def test_merging_two_automatic_stories_gives_the_lead_to_the_earliest_original(editor):
    kept, _ = story_with("Later report", start=5)
    merged, (first,) = story_with("First report", start=20)

    stories.story_merge(story=merged, into=kept, by=editor)

    kept = fresh(kept)
    assert kept.lead == first and kept.title == "First report"


def test_merging_into_a_story_whose_lead_an_editor_chose_keeps_that_lead(editor):
    kept, (early, chosen) = story_with("Early report", "The editor's pick", start=5)
    stories.story_set_lead(story=kept, article=chosen, by=editor)
    merged, _ = story_with("Even earlier report", start=20)

    stories.story_merge(story=merged, into=kept, by=editor)

    assert fresh(kept).lead == chosen


def test_a_story_merged_away_is_no_longer_offered_to_new_articles(editor):
    kept, _ = story_with("Bridge closes")
    merged, _ = story_with("Bridge to shut")
    StoryTerm.objects.create(story=merged, term="bridge", last_seen_at=timezone.now())

    stories.story_merge(story=merged, into=kept, by=editor)

    assert list(Story.objects.recent(hours_ago(48))) == [kept]
    assert not StoryTerm.objects.filter(story=merged).exists()
    assert fresh(merged).editor_locked is True


def test_a_story_merged_into_one_that_is_merged_later_points_at_the_last_one(editor):
    first, _ = story_with("One")
    second, _ = story_with("Two")
    third, _ = story_with("Three")

    stories.story_merge(story=first, into=second, by=editor)
    stories.story_merge(story=second, into=third, by=editor)

    assert fresh(first).merged_into == third and fresh(second).merged_into == third
    assert fresh(third).article_count == 3


def test_a_story_cannot_be_merged_into_itself_or_into_a_story_merged_away(editor):
    story, _ = story_with("One")
    gone, _ = story_with("Two")
    stories.story_merge(story=gone, into=story, by=editor)
    entries = AuditEntry.objects.count()

    with pytest.raises(DeskError, match="into itself"):
        stories.story_merge(story=story, into=story, by=editor)
    with pytest.raises(DeskError, match="was merged into"):
        stories.story_merge(story=story, into=gone, by=editor)

    assert fresh(story).article_count == 2 and AuditEntry.objects.count() == entries


def test_merging_announces_both_stories(editor, announced):
    kept, _ = story_with("One")
    merged, _ = story_with("Two")

    stories.story_merge(story=merged, into=kept, by=editor)

    assert announced == [sorted([kept.pk, merged.pk])]


# --- move -------------------------------------------------------------------------------------


def test_moving_an_article_takes_its_copies_along_and_locks_everything_it_touched(editor, announced):
    source, (stays, moves) = story_with("Council meets", "Mayor resigns")
    copy = copy_of(moves)
    target, (other,) = story_with("Mayor steps down")

    stories.article_move(article=fresh(moves), story=target, by=editor, reason="About the mayor.")

    assert set(fresh(target).articles.all()) == {other, moves, copy}
    assert list(fresh(source).articles.all()) == [stays]
    assert (fresh(moves).story_locked, fresh(copy).story_locked, fresh(stays).story_locked) == (
        True,
        True,
        False,
    )
    assert fresh(source).editor_locked and fresh(target).editor_locked
    assert (source.article_count, target.article_count) == (1, 3)
    entry = AuditEntry.objects.get(action="article_move")
    assert (entry.actor, entry.article, entry.reason) == (editor, moves, "About the mayor.")
    assert entry.details == {"from_story": source.pk, "to_story": target.pk, "articles": [moves.pk, copy.pk]}
    assert announced == [sorted([source.pk, target.pk])]


def test_moving_the_lead_out_gives_the_story_a_new_lead_and_title(editor):
    source, (lead, second) = story_with("The first report", "The second report")
    target, _ = story_with("Elsewhere")

    stories.article_move(article=lead, story=target, by=editor)

    source = fresh(source)
    assert source.lead == second and source.title == "The second report"


def test_moving_the_only_article_of_a_story_leaves_a_pointer_to_its_new_story(editor):
    source, (alone,) = story_with("Alone")
    target, _ = story_with("Together")

    stories.article_move(article=alone, story=target, by=editor)

    source = fresh(source)
    assert source.merged_into == target and source.article_count == 0
    assert fresh(target).article_count == 2


def test_moving_refuses_a_copy_the_same_story_and_a_story_merged_away(editor):
    source, (original,) = story_with("Original")
    copy = copy_of(original)
    target, _ = story_with("Target")
    gone, _ = story_with("Gone")
    stories.story_merge(story=gone, into=target, by=editor)
    entries = AuditEntry.objects.count()

    with pytest.raises(DeskError, match="is a copy of"):
        stories.article_move(article=copy, story=target, by=editor)
    with pytest.raises(DeskError, match="already in that story"):
        stories.article_move(article=original, story=source, by=editor)
    with pytest.raises(DeskError, match="was merged into"):
        stories.article_move(article=original, story=gone, by=editor)

    assert set(fresh(source).articles.all()) == {original, copy}
    assert AuditEntry.objects.count() == entries


def test_moving_an_article_that_left_its_story_meanwhile_changes_nothing(editor):
    source, (a, b) = story_with("One", "Two")
    elsewhere, _ = story_with("Elsewhere")
    target, _ = story_with("Target")
    seen_by_second_editor = Article.objects.get(pk=b.pk)
    stories.article_move(article=b, story=elsewhere, by=editor)

    with pytest.raises(DeskError, match="moved to another story meanwhile"):
        stories.article_move(article=seen_by_second_editor, story=target, by=editor)

    assert fresh(b).story == elsewhere and fresh(target).article_count == 1


# --- split ------------------------------------------------------------------------------------


def test_splitting_puts_the_article_and_its_copies_in_a_locked_story_of_their_own(editor, announced):
    source, (stays, leaves) = story_with("Storm hits coast", "Local team wins final")
    copy = copy_of(leaves)

    new = stories.article_split(article=leaves, by=editor, reason="Not about the storm.").story

    new = fresh(new)
    assert set(new.articles.all()) == {leaves, copy}
    assert new.lead == leaves and new.title == "Local team wins final"
    assert (new.article_count, new.source_count) == (2, 2)
    assert new.editor_locked and fresh(source).editor_locked
    assert fresh(leaves).story_locked and fresh(copy).story_locked
    assert list(fresh(source).articles.all()) == [stays]
    entry = AuditEntry.objects.get(action="article_split")
    assert (entry.actor, entry.article, entry.reason) == (editor, leaves, "Not about the storm.")
    assert entry.details == {"from_story": source.pk, "to_story": new.pk, "articles": [leaves.pk, copy.pk]}
    assert announced == [sorted([source.pk, new.pk])]


def test_splitting_refuses_a_copy_and_an_article_already_alone(editor):
    _, (alone,) = story_with("Alone")
    copy = copy_of(alone)
    _, (solo,) = story_with("Solo")
    before = Story.objects.count()

    with pytest.raises(DeskError, match="is a copy of"):
        stories.article_split(article=copy, by=editor)
    with pytest.raises(DeskError, match="already the only article"):
        stories.article_split(article=solo, by=editor)

    assert Story.objects.count() == before and not AuditEntry.objects.exists()


# --- lead -------------------------------------------------------------------------------------


def test_setting_the_lead_renames_and_locks_the_story_and_survives_a_recount(editor, announced):
    story, (first, chosen) = story_with("First report", "Best report")

    stories.story_set_lead(story=story, article=chosen, by=editor, reason="Fuller account.")
    # An earlier article joins (as grouping would place it, under the story's fresh row).
    factories.make_article(story=fresh(story), title="An even earlier report", published_at=hours_ago(30))

    story = fresh(story)
    story.recount()
    assert story.lead == chosen and story.title == "Best report" and story.editor_locked
    entry = AuditEntry.objects.get(action="story_set_lead")
    assert (entry.actor, entry.article, entry.reason) == (editor, chosen, "Fuller account.")
    assert entry.details == {"story": story.pk, "previous_lead": first.pk, "lead": chosen.pk}
    assert announced == [[story.pk]]


def test_the_lead_must_be_an_original_article_of_the_story(editor):
    story, (lead,) = story_with("Lead")
    copy = copy_of(lead)
    _, (stranger,) = story_with("Another story")

    with pytest.raises(DeskError, match="is not an article of"):
        stories.story_set_lead(story=story, article=stranger, by=editor)
    with pytest.raises(DeskError, match="is a copy of"):
        stories.story_set_lead(story=story, article=copy, by=editor)

    story = fresh(story)
    assert story.lead == lead and not story.editor_locked and not AuditEntry.objects.exists()


# --- what grouping does next -------------------------------------------------------------------


def reported(event: tuple[str, str], *, hours: float) -> Article:
    """An outlet's report of `event`, published `hours` after a moment three days ago and
    grouped as the pipeline groups it."""
    title, text = event
    article = factories.make_ungrouped_article(
        title=title, extracted_text=text, published_at=hours_ago(72 - hours)
    )
    article_group(article=article)
    return fresh(article)


def rail_story_with_the_hearing() -> tuple[Story, Article]:
    """The council's vote told by two outlets, and the first hearing on the route reported the
    same evening, which grouping joins to the vote's story (a day later the vote's story,
    quiet since, keeps too little of its score: grouping.HALF_LIFE)."""
    vote, rewrite = reported(RAIL, hours=0), reported(RAIL_REWRITE, hours=1)
    hearing = reported(HEARING, hours=6)
    assert vote.story_id == rewrite.story_id == hearing.story_id
    return vote.story, hearing


# Words only the hearing's report uses.
HEARING_WORDS = {"pack", "shopkeeper", "eastside"}


def test_a_new_report_of_an_article_split_out_joins_the_story_it_was_split_into(editor):
    vote_story, hearing = rail_story_with_the_hearing()

    own = stories.article_split(article=hearing, by=editor, reason="The hearing is news of its own.").story
    later = reported(HEARING_REWRITE, hours=7)

    assert later.story_id == own.pk != vote_story.pk
    assert fresh(own).article_count == 2 and fresh(vote_story).article_count == 2


def test_a_new_report_of_a_merged_story_s_event_joins_the_story_it_was_merged_into(editor):
    english, french = reported(RAIL, hours=0), reported(RAIL_FRENCH, hours=1)
    assert english.story_id != french.story_id  # without embeddings two languages stay apart

    kept = stories.story_merge(story=french.story, into=english.story, by=editor, reason="Same vote.").story
    later = reported(RAIL_FRENCH_REWRITE, hours=2)

    assert later.story_id == kept.pk
    assert fresh(kept).article_count == 3 and fresh(french.story).article_count == 0


@pytest.mark.parametrize("decision", ["split", "move"])
def test_a_story_that_lost_an_article_is_no_longer_indexed_by_its_words(decision, editor):
    vote_story, hearing = rail_story_with_the_hearing()
    hearings, _ = story_with("Route hearings")
    assert HEARING_WORDS <= set(vote_story.profile)

    if decision == "split":
        stories.article_split(article=hearing, by=editor)
    else:
        stories.article_move(article=hearing, story=hearings, by=editor)

    vote_story = fresh(vote_story)
    assert not HEARING_WORDS & set(vote_story.profile)
    assert {"council", "rail", "river"} <= set(vote_story.profile)
    assert not HEARING_WORDS & set(StoryTerm.objects.filter(story=vote_story).values_list("term", flat=True))
    assert HEARING_WORDS <= set(fresh(hearing).story.profile)


# --- the summaries that follow ----------------------------------------------------------------


def summarised_story(*titles: str, start: float = 10) -> tuple[Story, list[Article]]:
    """story_with, whose first article leads with a summary on the desk; the others are covered
    by it (extracted, never summarised on their own)."""
    story = factories.make_story()
    lead = factories.make_review_article(story=story, title=titles[0], published_at=hours_ago(start))
    others = [
        factories.make_article(story=story, title=title, published_at=hours_ago(start - i))
        for i, title in enumerate(titles[1:], start=1)
    ]
    story.refresh_from_db()
    return story, [lead, *others]


def test_each_decision_names_the_stories_whose_summary_must_follow_and_never_an_emptied_one(editor):
    bridge, (_, closed) = summarised_story("Bridge closes", "Bridge closed for repairs")
    repairs, (_, shut) = summarised_story("Bridge to shut", "Repairs shut the bridge")
    ferry, _ = summarised_story("Ferry strike")
    lone, (alone,) = summarised_story("Ferry strike ends")

    moved = stories.article_move(article=closed, story=repairs, by=editor)
    assert (moved.story, moved.refresh, moved.summarize) == (repairs, (bridge.pk, repairs.pk), ())
    # A report split out leads a story of its own and has no summary yet: it is summarised.
    split = stories.article_split(article=shut, by=editor)
    assert (split.refresh, split.summarize) == ((repairs.pk,), (shut.pk,))
    assert split.story.lead_id == shut.pk
    merged = stories.story_merge(story=ferry, into=bridge, by=editor)
    assert (merged.story, merged.refresh, merged.summarize) == (bridge, (bridge.pk,), ())
    # Moving a story's only article empties it: only the story it joined follows.
    emptied = stories.article_move(article=alone, story=bridge, by=editor)
    assert fresh(lone).merged_into_id == bridge.pk
    assert (emptied.refresh, emptied.summarize) == ((bridge.pk,), ())
    # A new lead changes no article of the story.
    lead = stories.story_set_lead(story=bridge, article=alone, by=editor)
    assert (lead.refresh, lead.summarize) == ((), ())


def test_merging_a_story_of_copies_alone_asks_for_no_summary(editor):
    kept, (original,) = story_with("Storm closes ports")
    stray, _ = story_with("Storm closes ports (wire)")
    copy = factories.make_article(story=stray, duplicate_of=original, title=original.title)
    Article.objects.filter(story=stray).exclude(pk=copy.pk).delete()

    decision = stories.story_merge(story=stray, into=kept, by=editor)

    assert decision.story == kept and (decision.refresh, decision.summarize) == ((), ())


def test_with_story_summaries_off_no_summary_follows_a_decision(editor, settings):
    settings.STORY_SUMMARIES = False
    bridge, (_, closed) = summarised_story("Bridge closes", "Bridge closed for repairs")
    repairs, _ = summarised_story("Bridge to shut")

    decision = stories.article_move(article=closed, story=repairs, by=editor)

    assert (decision.refresh, decision.summarize) == ((), ())


# --- who may decide ---------------------------------------------------------------------------


DECISIONS = {
    "merge": lambda s, other, article, by: stories.story_merge(story=other, into=s, by=by),
    "move": lambda s, other, article, by: stories.article_move(article=article, story=other, by=by),
    "split": lambda s, other, article, by: stories.article_split(article=article, by=by),
    "lead": lambda s, other, article, by: stories.story_set_lead(story=s, article=article, by=by),
}


@pytest.mark.parametrize("who", ["moderator", "other_staff", "reader"])
@pytest.mark.parametrize("decision", list(DECISIONS))
def test_only_editors_decide_about_stories(who, decision, request, db):
    story, (_, second) = story_with("One", "Two")
    other, _ = story_with("Three")
    before = sorted(Article.objects.values_list("pk", "story_id", "story_locked"))

    with pytest.raises(PermissionDenied):
        DECISIONS[decision](story, other, second, request.getfixturevalue(who))

    assert sorted(Article.objects.values_list("pk", "story_id", "story_locked")) == before
    assert not Story.objects.filter(editor_locked=True).exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("decision", list(DECISIONS))
def test_an_editor_may_take_each_decision(decision, editor):
    story, (_, second) = story_with("One", "Two")
    other, _ = story_with("Three")

    DECISIONS[decision](story, other, second, editor)

    assert AuditEntry.objects.get().actor == editor
