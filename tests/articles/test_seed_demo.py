from __future__ import annotations

from django.core.management import call_command
from django.utils.html import escape

from articles import demo_content
from articles.models import Article, Source, Story, Summary, Topic


def counts() -> tuple[int, ...]:
    return (Topic.objects.count(), Source.objects.count(), Article.objects.count(), Summary.objects.count())


def test_seed_demo_creates_a_living_site_and_is_idempotent(db, client):
    call_command("seed_demo")
    first = counts()
    assert Article.objects.published().count() == 13  # two drafts wait for review, a copy has none
    call_command("seed_demo")
    assert counts() == first

    response = client.get("/")
    assert response.status_code == 200
    # One card per story: each story on the site shows one of its published articles.
    for article in Article.objects.published():
        told_by = Article.objects.published().filter(story=article.story_id)
        assert any(escape(other.title) in response.text for other in told_by), article.title


def test_every_demo_evidence_quote_occurs_in_its_article_except_the_one_the_desk_flags(db):
    call_command("seed_demo")
    missing = []
    for summary in Summary.objects.select_related("article"):
        claims = summary.key_points + summary.faq
        assert len(summary.faq) == 3
        for claim in claims:
            assert claim["evidence"]
            missing += [q for q in claim["evidence"] if q not in summary.article.extracted_text]
    assert missing == demo_content.UNVERIFIED_POINT["evidence"]


def test_a_new_editor_finds_drafts_to_review_on_the_demo_desk(db, client):
    call_command("seed_demo")
    queue = Article.objects.awaiting_review()

    clean, flagged = (
        queue.get(title=title) for title, state in demo_content.DESK_STATES.items() if state != "regenerated"
    )
    regenerated = queue.get(title=next(t for t, s in demo_content.DESK_STATES.items() if s == "regenerated"))
    assert clean.status == Article.Status.IN_REVIEW and not clean.latest_summary.is_flagged
    assert flagged.status == Article.Status.IN_REVIEW and flagged.latest_summary.is_flagged
    assert flagged.latest_summary.unverified_claims[0]["field"] == "key_points[2]"
    assert regenerated.status == Article.Status.PUBLISHED and regenerated.needs_attention
    assert regenerated.latest_summary.version == 2 and regenerated.latest_summary.approved_at is None
    assert regenerated.current_summary.version == 1  # readers keep the approved version

    client.login(username="editor@newsroom.test", password="newsroom-editor")
    queue_page = client.get("/admin/articles/article/").content.decode()
    assert all(escape(a.title) in queue_page for a in (clean, flagged, regenerated))
    review = client.get(f"/admin/articles/article/{flagged.pk}/change/").content.decode()
    assert escape(demo_content.UNVERIFIED_POINT["text"]) in review


def test_the_printed_demo_editor_can_log_in_to_the_desk(db, client):
    call_command("seed_demo")
    assert client.login(username="editor@newsroom.test", password="newsroom-editor")
    assert client.get("/admin/").status_code == 200


def test_the_demo_shows_stories_covered_by_several_sources_and_a_copy_grouped_by_the_pipeline(db):
    call_command("seed_demo")

    assert not Article.objects.exclude(status=Article.Status.NEW).filter(story__isnull=True).exists()
    for coverage in (s for s in demo_content.STORIES if "covers" in s):
        article = Article.objects.get(title=coverage["title"])
        first = Article.objects.get(title=coverage["covers"])
        assert article.story_id == first.story_id and article.source_id != first.source_id
        assert article.story.lead_id == first.pk  # first reported by the earlier outlet

    copy_of = demo_content.COPIES[0]
    copy = Article.objects.get(title=copy_of["title"])
    original = Article.objects.get(title=copy_of["of"])
    assert copy.duplicate_of_id == original.pk and copy.story_id == original.story_id
    assert copy.status == Article.Status.EXTRACTED and not copy.summaries.exists()
    assert copy.source_id != original.source_id
    # Unrelated events stay apart: one story per event, with its coverage and copies.
    events = [s for s in demo_content.STORIES if "covers" not in s]
    assert Story.objects.count() == len(events)
    covered = len(demo_content.STORIES) - len(events) + len(demo_content.COPIES)
    assert Story.objects.filter(source_count__gt=1).count() == covered
