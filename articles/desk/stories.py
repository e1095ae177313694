"""Editors shape stories on the desk: merge two stories, move an article to another story,
split an article out into a story of its own, pick a story's lead.

Rules every function here keeps:

- Only editors decide (`permissions.can_approve`); anyone else gets PermissionDenied and
  nothing changes. The rule is checked here as well as in the admin because these decisions
  bind automatic grouping for good, whichever door (admin, shell, command) they come through.
- One transaction each, taking locks in one order: the grouping lock first
  (articles.stories.services.stories_lock, which every placement holds), then story rows
  with select_for_update in primary-key order, then article rows in primary-key order. So
  grouping never places an article into a story halfway through a decision (into a story
  being merged away, say), and two editors, or an editor and the grouping, queue up instead
  of deadlocking. A decision based on a story that changed meanwhile (the article left it,
  the story was merged away) raises DeskError and writes nothing.
- Only the columns a decision owns are written, with .update(): Article.story and
  story_locked; Story.editor_locked, lead and merged_into. Counts, seen times, title and lead
  then come from `Story.recount()` on every story touched, and the grouping profile and index
  terms of every story whose articles changed from `story_reindex`, so that new reports join
  the stories as the editor shaped them.
- Each records one AuditEntry (action: the function's name) with the editor, the reason and
  the story and article ids, and sends `story_changed` for every story touched.
- Each returns a StoryDecision naming the stories whose summary must follow: a story whose
  distinct articles (originals) changed is weighed again, as when a report joins it, or
  summarised when its lead has no summary yet. This module never queues tasks: the caller
  does (articles/desk/admin.py), once the decision has committed. A story left empty is not
  among them: it has nothing to summarise.

What automatic grouping will not undo: an article an editor moved or split out is
`story_locked` (grouping never moves it); a story an editor merged into, moved into or out
of, split from or gave a lead is `editor_locked` (grouping never merges it and keeps its
lead). A story merged away keeps its row, empty, with `merged_into` set: its URL leads to the
story it joined, and grouping no longer offers it to new articles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from articles.models import Article, AuditEntry, Story, StoryTerm, story_changed
from articles.stories.services import stories_lock, story_reindex

from . import permissions
from .services import DeskError


@dataclass(frozen=True)
class StoryDecision:
    """What an editor's decision left: `story` is the story it names (the one kept, moved
    into, split out, or given a lead); the summaries the caller queues once it commits are
    `refresh`, the stories whose distinct articles changed, to be weighed again (the task
    refresh_story_summary, as when a report joins a story), and `summarize`, the leads of
    such stories that have no summary yet (a lead that was a covered report, or an article
    split out), to be summarised from every source of their story."""

    story: Story
    refresh: tuple[int, ...] = ()
    summarize: tuple[int, ...] = ()


def _decision(story: Story, changed: Iterable[Story]) -> StoryDecision:
    """The decision's outcome, read inside its transaction: `changed` are the stories whose
    originals changed, recounted; those left empty are dropped."""
    ids = sorted({s.pk for s in changed if s.article_count})
    if not ids or not settings.STORY_SUMMARIES:
        return StoryDecision(story=story)
    due = dict(Article.objects.due_for_summary().filter(story_id__in=ids).values_list("story_id", "pk"))
    return StoryDecision(
        story=story,
        refresh=tuple(pk for pk in ids if pk not in due),
        summarize=tuple(due[pk] for pk in ids if pk in due),
    )


def _require_editor(user: Any) -> None:
    if not permissions.can_approve(user):
        raise PermissionDenied("Only editors merge, move, split or pick the lead of stories.")


def _lock_stories(*story_ids: int) -> dict[int, Story]:
    """The stories, locked in primary-key order; DeskError when one no longer exists."""
    wanted = set(story_ids)
    stories = {s.pk: s for s in Story.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
    if len(stories) != len(wanted):
        raise DeskError("A story involved no longer exists. Nothing changed; reload the page.")
    return stories


def _lock_articles(article_ids: Iterable[int]) -> dict[int, Article]:
    rows = Article.objects.select_for_update().filter(pk__in=set(article_ids)).order_by("pk")
    return {a.pk: a for a in rows}


def _open(story: Story) -> None:
    """Refuse a story that was merged away: it has no articles and takes none."""
    if story.merged_into_id is not None:
        raise DeskError(
            f"“{story.title}” was merged into story #{story.merged_into_id} meanwhile. "
            "Nothing changed; reload the page."
        )


def _not_a_copy(article: Article, what: str) -> None:
    if article.duplicate_of_id is not None:
        raise DeskError(
            f"“{article.title}” is a copy of article #{article.duplicate_of_id}: {what} the "
            "original instead (its copies go with it)."
        )


def _settle(story: Story) -> None:
    """Recount a story whose articles changed, mark it shaped by an editor and rebuild its
    grouping index from the articles it holds now. The recount comes first so that a story
    that was automatic gets the lead its articles give it now (from then on that lead is
    kept: Story.recount keeps an editor-locked story's lead), and so that the index is seen
    until its latest article."""
    story.recount()
    if not story.editor_locked:
        Story.objects.filter(pk=story.pk).update(editor_locked=True)
        story.editor_locked = True
    story_reindex(story=story)


def _retire(story: Story, *, into: Story) -> None:
    """An emptied story becomes a pointer to `into`: readers following its URL land there,
    earlier pointers to it are repointed (one hop, always), and its index terms go so that
    grouping never offers an empty story to a new article."""
    Story.objects.filter(merged_into=story).update(merged_into=into)
    Story.objects.filter(pk=story.pk).update(
        merged_into=into, editor_locked=True, lead=None, profile={}, member_vectors=[], hub_scores=[]
    )
    StoryTerm.objects.filter(story=story).delete()
    story.merged_into, story.editor_locked, story.lead = into, True, None
    story.profile, story.member_vectors = {}, []
    story.recount()


def _moving(article: Article) -> list[int]:
    """The article and its copies, which always travel together."""
    copies = Article.objects.filter(duplicate_of=article.pk).order_by("pk").values_list("pk", flat=True)
    return [article.pk, *copies]


def _announce(*stories: Story) -> None:
    story_changed.send(sender=Story, story_ids=sorted({s.pk for s in stories}))


def story_merge(*, story: Story, into: Story, by: Any, reason: str = "") -> StoryDecision:
    """Move every article of `story` into `into` and retire `story` (empty, `merged_into`
    set, its URL redirecting); the decision names `into`, now editor-locked, and refreshes
    its summary when an original joined it (never the retired story's).

    `into` keeps its lead if an editor chose it; otherwise the merged story's earliest
    original article leads it. Refuses a story merged into itself and a story that was
    merged away already.
    """
    _require_editor(by)
    if story.pk == into.pk:
        raise DeskError("A story cannot be merged into itself.")
    with transaction.atomic():
        stories_lock()
        locked = _lock_stories(story.pk, into.pk)
        story, into = locked[story.pk], locked[into.pk]
        _open(story)
        _open(into)
        rows = list(
            Article.objects.select_for_update()
            .filter(story=story)
            .order_by("pk")
            .values_list("pk", "duplicate_of_id")
        )
        moved = [pk for pk, _ in rows]
        Article.objects.filter(story=story).update(story=into)
        _retire(story, into=into)
        _settle(into)
        AuditEntry.record(
            "story_merge",
            actor=by,
            target=into,
            reason=reason,
            from_story=story.pk,
            to_story=into.pk,
            articles=moved,
        )
        _announce(story, into)
        decision = _decision(into, [into] if any(copy_of is None for _, copy_of in rows) else [])
    return decision


def _relocate(*, article: Article, to: Story | None, by: Any, reason: str, action: str) -> StoryDecision:
    """Move the article and its copies out of the story it is in (as the caller read it) into
    `to`, or into a new story of their own when `to` is None. Shared by move and split. Both
    stories' summaries follow (the one left is weighed again unless it was left empty)."""
    from_id = article.story_id
    if from_id is None:
        raise DeskError(f"“{article.title}” is not in a story yet (it has not been extracted).")
    with transaction.atomic():
        stories_lock()
        locked = _lock_stories(from_id, *([to.pk] if to is not None else []))
        source = locked[from_id]
        rows = _lock_articles(_moving(article))
        article = rows[article.pk]
        if article.story_id != from_id:
            raise DeskError(
                f"“{article.title}” was moved to another story meanwhile. Nothing changed; reload the page."
            )
        _not_a_copy(article, "move" if to is not None else "split out")
        # Copies in the article's story go with it; a copy found in any other story stays put.
        moving = sorted(pk for pk, row in rows.items() if row.story_id == from_id)
        if to is None:
            if not Article.objects.filter(story=source).exclude(pk__in=moving).exists():
                raise DeskError(f"“{article.title}” is already the only article of its story.")
            target = Story.objects.create(
                title=article.title,
                first_seen_at=article.published_at,
                last_seen_at=article.published_at,
                editor_locked=True,
            )
        else:
            target = locked[to.pk]
            if target.pk == source.pk:
                raise DeskError(f"“{article.title}” is already in that story.")
            _open(target)
        Article.objects.filter(pk__in=moving).update(story=target, story_locked=True)
        if Article.objects.filter(story=source).exists():
            _settle(source)
        else:
            _retire(source, into=target)
        _settle(target)
        AuditEntry.record(
            action,
            actor=by,
            article=article,
            target=target,
            reason=reason,
            from_story=source.pk,
            to_story=target.pk,
            articles=moving,
        )
        _announce(source, target)
        decision = _decision(target, [source, target])
    return decision


def article_move(*, article: Article, story: Story, by: Any, reason: str = "") -> StoryDecision:
    """Move the article, with its copies, from its story into `story`; the decision names
    `story`.

    The moved articles become story_locked and both stories editor_locked. If the article's
    story is left empty it is retired as if merged into `story`. Refuses a copy (move its
    original), an article already in `story`, a story merged away, and an article that left
    the story the caller read meanwhile.
    """
    _require_editor(by)
    return _relocate(article=article, to=story, by=by, reason=reason, action="article_move")


def article_split(*, article: Article, by: Any, reason: str = "") -> StoryDecision:
    """Take the article, with its copies, out of its story into a new story of its own; the
    decision names the new story. A report its old story's summary covered has no summary of
    its own: it is summarised as the new story's lead.

    The article is story_locked and both stories editor_locked, so automatic grouping never
    merges it back. Refuses a copy (split its original) and an article that is already alone
    in its story.
    """
    _require_editor(by)
    return _relocate(article=article, to=None, by=by, reason=reason, action="article_split")


def story_set_lead(*, story: Story, article: Article, by: Any, reason: str = "") -> StoryDecision:
    """Make `article` the story's lead (the story takes its title) and lock the story, so
    recounts and automatic grouping keep the editor's lead. Refuses an article of another
    story and a copy. The story's articles stay the same: no summary is queued."""
    _require_editor(by)
    with transaction.atomic():
        stories_lock()
        story = _lock_stories(story.pk)[story.pk]
        rows = _lock_articles([article.pk])
        if article.pk not in rows or rows[article.pk].story_id != story.pk:
            raise DeskError(f"“{article.title}” is not an article of “{story.title}”.")
        article = rows[article.pk]
        _not_a_copy(article, "choose")
        previous = story.lead_id
        Story.objects.filter(pk=story.pk).update(lead=article, editor_locked=True)
        story.lead, story.editor_locked = article, True
        story.recount()
        AuditEntry.record(
            "story_set_lead",
            actor=by,
            article=article,
            target=story,
            reason=reason,
            story=story.pk,
            previous_lead=previous,
            lead=article.pk,
        )
        _announce(story)
    return StoryDecision(story=story)
