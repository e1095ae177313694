"""Cache invalidation, a side concern wired through signals (the other: the WebSub hub ping,
receivers.py).

Each handler defers to `transaction.on_commit`, so a rolled-back change never empties the
cache and readers never get a page rebuilt from uncommitted rows. Writes readers cannot see
(ingesting, summarising an unpublished article) leave the cache alone: the site serves
thousands of cached reads per write, and ingestion writes constantly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse

from articles.models import (
    Article,
    OpenQuestion,
    Source,
    Story,
    StoryUpdate,
    Summary,
    Topic,
    article_state_changed,
    open_question_changed,
    story_changed,
)
from comments.models import Comment, comment_state_changed
from newsroom.pagecache import invalidate_pages


def _invalidate_on_commit() -> None:
    transaction.on_commit(invalidate_pages)


def _article_is_or_was_public(article: Article) -> bool:
    # published_on_site_at stays set after unpublishing, so taking an article down counts too.
    return article.status == Article.Status.PUBLISHED or article.published_on_site_at is not None


@receiver([post_save, post_delete], sender=Article)
def article_changed(sender: type[Article], instance: Article, **kwargs: Any) -> None:
    if _article_is_or_was_public(instance):
        _invalidate_on_commit()


@receiver(article_state_changed, sender=Article)
def article_state_written(sender: type[Article], article: Article, from_status: str, **kwargs: Any) -> None:
    """A guarded status write (an UPDATE, so no post_save): publishing, a correction, taking
    an article down. Moves that never touch the site (new → extracted → summarizing) don't count."""
    if from_status == Article.Status.PUBLISHED or _article_is_or_was_public(article):
        _invalidate_on_commit()


@receiver(m2m_changed, sender=Article.topics.through)
def article_topics_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, Article) and not _article_is_or_was_public(instance):
        return
    _invalidate_on_commit()


@receiver([post_save, post_delete], sender=Summary)
def summary_changed(sender: type[Summary], instance: Summary, **kwargs: Any) -> None:
    # Unapproved drafts are invisible; approval goes through Article.publish(), which saves
    # the article and so invalidates through article_changed.
    if instance.approved_at is not None:
        _invalidate_on_commit()


@receiver([post_save, post_delete], sender=Comment)
def comment_changed(sender: type[Comment], instance: Comment, **kwargs: Any) -> None:
    # A comment changes only its article's page; listings' comment counts catch up when their
    # cached copies expire (PAGE_CACHE_SECONDS), so a lively discussion cannot flush the site.
    path = instance.article.get_absolute_url()
    transaction.on_commit(lambda: invalidate_pages(path=path))


@receiver(comment_state_changed, sender=Comment)
def comment_state_written(sender: type[Comment], comment: Comment, **kwargs: Any) -> None:
    """A moderation decision, an edit or a deletion, written by Comment.transition_to."""
    comment_changed(sender, instance=comment)


@receiver([post_save, post_delete], sender=Topic)
def topic_changed(sender: type[Topic], instance: Topic, **kwargs: Any) -> None:
    _invalidate_on_commit()


def story_paths(story_ids: Iterable[int]) -> set[str]:
    """The paths of every page that shows one of these stories, as the database has them now.

    Always the story pages themselves and their JSON (a story that just left the site must not
    be served from the cache). When a story has an article on the site also: that article's
    page and JSON (its coverage), the home page, its articles' topic and source pages (their
    cards), the feeds, the sitemap and the JSON API's lists. A path covers every page number of a listing. Related-article
    lists on other stories' pages show article cards, which a story change does not alter;
    they catch up within PAGE_CACHE_SECONDS. Two queries.
    """
    ids = list(story_ids)
    paths: set[str] = set()
    for slug in Story.objects.filter(pk__in=ids).values_list("slug", flat=True):
        paths.update({reverse("story", args=[slug]), reverse("api-v1:story", args=[slug])})
    on_site = False
    shown = (
        Article.objects.published()
        .filter(story_id__in=ids)
        .values_list("slug", "source__slug", "topics__slug")
    )
    for article_slug, source_slug, topic_slug in shown:
        on_site = True
        paths.update(
            {reverse("article", args=[article_slug]), reverse("api-v1:article", args=[article_slug])}
        )
        paths.add(reverse("source", args=[source_slug]))
        if topic_slug is not None:
            paths.update({reverse("topic", args=[topic_slug]), reverse("topic_feed", args=[topic_slug])})
    if on_site:
        paths.update(reverse(name) for name in ("home", "feed", "atom_feed", "json_feed", "sitemap"))
        # The JSON API's lists: their items name the story (articles/api/).
        paths.update(reverse(f"api-v1:{name}") for name in ("stories", "articles", "search"))
    return paths


@receiver(story_changed)
def story_membership_changed(sender: Any, story_ids: Iterable[int], **kwargs: Any) -> None:
    """Grouping placed an article or an editor reshaped stories: retire exactly the pages that
    show those stories, once the transaction commits (the paths are read after the commit).
    Story cards need nothing: their cache key holds the story as shown (cards.py)."""
    ids = list(story_ids)

    def retire() -> None:
        for path in story_paths(ids):
            invalidate_pages(path=path)

    # robust: the change is committed by then; a failure here is logged, never raised into
    # the grouping or desk code that made it.
    transaction.on_commit(retire, robust=True)


def story_detail_paths(story_ids: Iterable[int]) -> set[str]:
    """The paths of the pages that show these stories' timeline and follow-ups: each story page
    and its JSON, and its published articles' pages (the one whose summary stands for the
    story shows them too). A story merged into another counts as that story, whose page shows
    it. Cards, listings and feeds show neither, so they stay cached. Two queries."""
    ids = [pk for pk in story_ids if pk is not None]
    shown = Story.objects.filter(Q(pk__in=ids) | Q(merged_stories__pk__in=ids)).values_list("pk", "slug")
    paths: set[str] = set()
    story_pks: set[int] = set()
    for pk, slug in shown.distinct():
        story_pks.add(pk)
        paths.update({reverse("story", args=[slug]), reverse("api-v1:story", args=[slug])})
    for slug in Article.objects.published().filter(story_id__in=story_pks).values_list("slug", flat=True):
        paths.add(reverse("article", args=[slug]))
    return paths


def _retire_story_details(story_ids: Iterable[int]) -> None:
    ids = list(story_ids)

    def retire() -> None:
        for path in story_detail_paths(ids):
            invalidate_pages(path=path)

    transaction.on_commit(retire, robust=True)


@receiver([post_save, post_delete], sender=StoryUpdate)
def story_update_written(sender: type[StoryUpdate], instance: StoryUpdate, **kwargs: Any) -> None:
    """A development on a story's timeline. The pipeline writes it with the publication that
    retires every page anyway; this covers an entry added or removed on its own (the admin)."""
    _retire_story_details([instance.story_id])


@receiver(open_question_changed)
def open_question_written(sender: Any, question: OpenQuestion, **kwargs: Any) -> None:
    """An accepted question puts "Follow-up" on its story's pages and "Follows up" on the
    answering story's: both retire on commit. Open, proposed and dismissed ones show nowhere."""
    if question.status == OpenQuestion.Status.ACCEPTED:
        _retire_story_details([question.story_id, question.answer_story_id])


@receiver(post_delete, sender=OpenQuestion)
def open_question_deleted(sender: type[OpenQuestion], instance: OpenQuestion, **kwargs: Any) -> None:
    open_question_written(sender, question=instance)


# What readers see of a source: cards, source lines and listing titles show these.
_SOURCE_SHOWN = frozenset({"name", "slug", "site_url"})


@receiver(post_save, sender=Source)
def source_changed(
    sender: type[Source], instance: Source, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    """A source renamed (or re-addressed) in the admin or on the desk: its name is on every page
    that lists its articles, so every page goes. The poller records its fetch state with
    `.update()`, which sends no signal, so polling never empties the cache; a new source has
    nothing on the site yet."""
    if created or (update_fields is not None and not _SOURCE_SHOWN & set(update_fields)):
        return
    _invalidate_on_commit()
