"""Every article already past extraction becomes a story of its own; a copy (duplicate_of)
joins its original's story. A copy whose original has no story (still `new`) starts one with
the other copies of that original, as grouping would place it by its own text. Each story's
counts and first/last seen times are those of its articles, copies included (as
Story.recount gives them). `manage.py stories_regroup` can group them afterwards."""

from django.db import migrations
from django.db.models import Count, Max, Min
from django.utils.text import slugify


def backfill(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    Story = apps.get_model("articles", "Story")
    taken: set[str] = set(Story.objects.values_list("slug", flat=True))

    def start_story(article) -> int:
        base = slugify(article.title)[:200].strip("-") or "story"
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        story = Story.objects.create(
            title=article.title,
            slug=slug,
            first_seen_at=article.published_at,
            last_seen_at=article.published_at,
            updated_at=article.published_at,
            lead_id=article.pk,
            source_count=1,
            article_count=1,
        )
        Article.objects.filter(pk=article.pk).update(story=story)
        return story.pk

    # Only what a story is started from: an article's text may be long, and every row is listed.
    grouped = (
        Article.objects.exclude(status="new")
        .filter(story__isnull=True)
        .only("pk", "title", "published_at", "duplicate_of_id")
    )
    # Lists, not open cursors: the loops write to the table they read.
    for article in list(grouped.filter(duplicate_of__isnull=True).order_by("published_at", "pk")):
        start_story(article)
    joined: set[int] = set()
    started: dict[int, int] = {}  # original without a story -> the story its first copy started
    copies = grouped.filter(duplicate_of__isnull=False).order_by("published_at", "pk")
    for copy in list(copies):
        # Read now, not with the list: an original that is itself a copy was placed just before.
        story_id = Article.objects.filter(pk=copy.duplicate_of_id).values_list("story_id", flat=True).first()
        story_id = story_id or started.get(copy.duplicate_of_id)
        if story_id is None:
            started[copy.duplicate_of_id] = start_story(copy)
            continue
        Article.objects.filter(pk=copy.pk).update(story_id=story_id)
        joined.add(story_id)
    for story_id in sorted(joined):
        members = Article.objects.filter(story_id=story_id).aggregate(
            articles=Count("pk"),
            sources=Count("source_id", distinct=True),
            first=Min("published_at"),
            last=Max("published_at"),
        )
        Story.objects.filter(pk=story_id).update(
            article_count=members["articles"],
            source_count=members["sources"],
            first_seen_at=members["first"],
            last_seen_at=members["last"],
        )


class Migration(migrations.Migration):
    dependencies = [("articles", "0004_stories")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
