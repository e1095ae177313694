"""Every article already past extraction becomes a story of its own; a copy (duplicate_of)
joins its original's story. `manage.py stories_regroup` can group them afterwards."""

from django.db import migrations
from django.utils.text import slugify


def backfill(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    Story = apps.get_model("articles", "Story")
    taken: set[str] = set(Story.objects.values_list("slug", flat=True))
    grouped = Article.objects.exclude(status="new").filter(story__isnull=True)
    for article in grouped.filter(duplicate_of__isnull=True).order_by("published_at", "pk").iterator():
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
    for copy in grouped.filter(duplicate_of__isnull=False).select_related("duplicate_of").iterator():
        story_id = copy.duplicate_of.story_id
        if story_id is None:
            continue
        Article.objects.filter(pk=copy.pk).update(story_id=story_id)
        story = Story.objects.get(pk=story_id)
        sources = Article.objects.filter(story_id=story_id).values("source_id").distinct().count()
        Story.objects.filter(pk=story_id).update(
            article_count=story.article_count + 1, source_count=sources
        )


class Migration(migrations.Migration):
    dependencies = [("articles", "0004_stories")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
