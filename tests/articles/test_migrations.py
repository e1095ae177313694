"""articles/migrations/0005_backfill_stories, run for real by the migration executor on a
database migrated back to 0004: rows written through the historical models, then 0005 applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Schema changes: outside a test transaction (SQLite refuses them inside one).
pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("articles", "0004_stories")]
BACKFILL = [("articles", "0005_backfill_stories")]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _migrate(targets: list[tuple[str, str]]):
    """Migrate to `targets`; the historical apps at that point."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def at_0004():
    """The database at articles 0004 (and what depends on no later migration); migrated forward
    to the latest state afterwards, whatever the test did."""
    try:
        yield _migrate(BEFORE)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_backfill_puts_every_article_past_new_in_exactly_one_story(at_0004):
    Source, Article = at_0004.get_model("articles", "Source"), at_0004.get_model("articles", "Article")
    gazette, herald, post = (
        Source.objects.create(
            name=name, slug=name.lower(), feed_url=f"https://{name.lower()}.example.com/feed"
        )
        for name in ("Gazette", "Herald", "Post")
    )

    def article(slug: str, *, source, hours: float, status: str = "extracted", duplicate_of=None):
        return Article.objects.create(
            url=f"https://{source.slug}.example.com/{slug}",
            slug=slug,
            title=f"Title of {slug}",
            source=source,
            published_at=T0 + timedelta(hours=hours),
            status=status,
            duplicate_of=duplicate_of,
        )

    original = article("original", source=gazette, hours=0, status="published")
    # Copies of it from another outlet three hours later, and from the same outlet an hour before.
    article("copy", source=herald, hours=3, duplicate_of=original)
    article("earlier-copy", source=gazette, hours=-1, duplicate_of=original)
    # A copy found through a canonical link to an article not yet extracted (still `new`).
    unextracted = article("unextracted", source=post, hours=1, status="new")
    stray_copy = article("stray-copy", source=herald, hours=5, duplicate_of=unextracted)
    article("later-stray-copy", source=post, hours=6, duplicate_of=unextracted)
    lone = article("lone", source=post, hours=2, status="rejected")

    apps = _migrate(BACKFILL)

    Article, Story = apps.get_model("articles", "Article"), apps.get_model("articles", "Story")
    story_of = dict(Article.objects.values_list("slug", "story_id"))
    # Past `new`: in a story. `new`: not yet (grouping places it when it is extracted).
    assert story_of.pop("unextracted") is None
    assert None not in story_of.values()
    assert story_of["original"] == story_of["copy"] == story_of["earlier-copy"]
    # The copies of a `new` article form a story of their own, as grouping would give them.
    assert story_of["stray-copy"] == story_of["later-stray-copy"]
    assert len({story_of["original"], story_of["stray-copy"], story_of["lone"]}) == 3
    assert Story.objects.count() == 3

    def shown(pk: int) -> tuple:
        story = Story.objects.get(pk=pk)
        return (
            story.article_count,
            story.source_count,
            story.first_seen_at,
            story.last_seen_at,
            story.lead_id,
            story.title,
        )

    def at(hours: float) -> datetime:
        return T0 + timedelta(hours=hours)

    # Copies count, and their publication times widen the story's first and last seen.
    assert shown(story_of["original"]) == (3, 2, at(-1), at(3), original.pk, original.title)
    # Led by the first copy: the story has no original to lead it (as Story.recount would pick).
    assert shown(story_of["stray-copy"]) == (2, 2, at(5), at(6), stray_copy.pk, stray_copy.title)
    assert shown(story_of["lone"]) == (1, 1, at(2), at(2), lone.pk, lone.title)
    slugs = list(Story.objects.values_list("slug", flat=True))
    assert len(set(slugs)) == 3 and all(slugs)
