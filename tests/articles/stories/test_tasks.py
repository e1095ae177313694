"""articles/stories/tasks.py: extraction chains grouping, grouping chains the summary of an
original only, and the sweepers recover what a dead worker left. End to end over loopback
HTTP: a wire text at two outlets is paid for once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.ingest import tasks as ingest_tasks
from articles.models import Article, ModelCall, Story, Summary
from articles.stories import tasks as story_tasks
from tests import factories
from tests.articles.stories.events import MUSEUM, RAIL, WIRE
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.feed_server import Route, rss


def page(title: str, text: str, *, site: str) -> bytes:
    """An outlet's article page, with the site's navigation, cookie banner and footer."""
    nav = "".join(
        f'<li><a href="/{word.lower()}">{word}</a></li>'
        for word in "Home News Sport Business Culture Opinion Weather Newsletters Subscribe".split()
    )
    paragraphs = "".join(f"<p>{sentence.strip()}.</p>" for sentence in text.split(". ") if sentence.strip())
    return (
        f"<html lang='en'><head><title>{title} | {site}</title></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        "<div class='cookie-banner' id='cookie-consent'><p>We use cookies to improve your experience "
        "on our site, to show you personalised advertising and to analyse our traffic. By clicking "
        "Accept all you agree to the storing of cookies on your device. You can change your choice "
        "at any time in Privacy settings.</p><button>Accept all</button></div>"
        f"<main><article><h1>{title}</h1>{paragraphs}</article></main>"
        f"<footer><p>Copyright 2026 {site}. All rights reserved. About us, Contact, Careers, "
        "Advertise, Terms of use, Privacy policy.</p></footer></body></html>"
    ).encode()


@pytest.fixture
def outlets(transactional_db, eager_celery, feed_server):
    """Two outlets on loopback. Each test puts its pages and feeds in place with `publish`."""
    feed_server.routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")

    def publish(site: str, stories: list[tuple[str, str]]) -> Article:
        links = []
        for n, (title, text) in enumerate(stories):
            path = f"/{site}/story-{n}"
            feed_server.routes[path] = Route(body=page(title, text, site=site), content_type="text/html")
            links.append((title, feed_server.url(path)))
        feed_server.routes[f"/{site}/feed.xml"] = Route(body=rss(links, title=site))
        source = factories.make_source(name=site, feed_url=feed_server.url(f"/{site}/feed.xml"))
        ingest_tasks.fetch_source.delay(source.pk)
        return source

    return publish


@pytest.fixture
def fake_anthropic(settings, monkeypatch):
    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        settings.ANTHROPIC_API_KEY = "test-key"
        settings.SUMMARY_BACKEND = "anthropic"
        yield fake


def test_a_wire_text_republished_by_a_second_outlet_is_grouped_as_a_copy_and_summarised_once(
    outlets, fake_anthropic
):
    wire_source = outlets("coastal-press", [WIRE])
    # The second outlet runs the same wire text with its own headline and a credit line.
    reprint = (
        "Northern ports shut by winter storm",
        WIRE[1] + " This report was provided by the Coastal Press Agency.",
    )
    reprint_source = outlets("harbour-times", [reprint])

    original = Article.objects.get(source=wire_source)
    copy = Article.objects.get(source=reprint_source)
    assert copy.content_hash != original.content_hash  # not an exact duplicate: found by grouping
    assert copy.duplicate_of_id == original.pk and copy.story_id == original.story_id
    assert copy.status == Article.Status.EXTRACTED and not copy.summaries.exists()
    assert original.status == Article.Status.IN_REVIEW and original.summaries.count() == 1
    assert len(fake_anthropic.requests) == 1 and ModelCall.objects.count() == 1
    story = Story.objects.get()
    assert (story.article_count, story.source_count, story.lead_id) == (2, 2, original.pk)


def test_an_identical_text_at_a_second_outlet_lands_in_its_originals_story_unsummarised(
    outlets, fake_anthropic
):
    wire_source = outlets("coastal-press", [WIRE])
    reprint_source = outlets("harbour-times", [WIRE])  # headline and text word for word

    original = Article.objects.get(source=wire_source)
    copy = Article.objects.get(source=reprint_source)
    assert copy.content_hash == original.content_hash  # extraction's exact duplicate
    assert copy.duplicate_of_id == original.pk and copy.story_id == original.story_id
    assert len(fake_anthropic.requests) == 1


def test_two_unrelated_articles_of_one_site_sharing_its_banner_and_navigation_stay_apart(outlets):
    site = outlets("riverside-gazette", [RAIL, MUSEUM])

    rail, museum = Article.objects.filter(source=site).order_by("title")
    assert "cookies" not in rail.extracted_text  # extraction leaves the site's chrome behind
    assert rail.story_id and museum.story_id and rail.story_id != museum.story_id
    assert Summary.objects.count() == 2


def test_grouping_queues_the_summary_of_an_extracted_original_only(db, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(story_tasks.summarize_article, "delay_on_commit", queued.append)
    original = factories.make_ungrouped_article(title=WIRE[0], extracted_text=WIRE[1])
    copy = factories.make_ungrouped_article(title="Ports shut", extracted_text=WIRE[1])
    failed = factories.make_ungrouped_article(
        title=MUSEUM[0], extracted_text="Too short.", status=Article.Status.FAILED
    )

    for article in (original, copy, failed):
        story_tasks.group_article(article.pk)
    again = story_tasks.group_article(original.pk)  # a redelivered message

    assert queued == [original.pk, original.pk]  # twice is harmless: the summary claim is a compare-and-set
    assert again["placed"] is False
    assert Article.objects.filter(story__isnull=True).count() == 0


def test_grouping_leaves_a_new_or_missing_article_alone(db):
    new = factories.make_ungrouped_article(status=Article.Status.NEW)

    assert story_tasks.group_article(new.pk)["skipped"] == "not extracted"
    assert story_tasks.group_article(new.pk + 1000)["skipped"] == "missing"


def test_the_sweep_groups_an_article_its_worker_left_without_a_story(db, settings, eager_celery, monkeypatch):
    settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS = 900
    monkeypatch.setattr(story_tasks.summarize_article, "delay_on_commit", lambda article_id: None)
    stranded = factories.make_ungrouped_article(status_changed_at=timezone.now() - timedelta(hours=1))

    assert story_tasks.sweep_ungrouped_articles.delay().get() == 1

    stranded.refresh_from_db()
    assert stranded.story_id is not None


def test_grouping_runs_on_the_ingest_queue_and_the_sweepers_on_the_beat(settings):
    assert settings.CELERY_TASK_ROUTES[story_tasks.group_article.name]["queue"] == "ingest"
    sweep = settings.CELERY_BEAT_SCHEDULE["sweep-ungrouped-articles"]
    assert sweep["task"] == story_tasks.sweep_ungrouped_articles.name
    assert sweep["schedule"] <= settings.ARTICLE_EXTRACT_STUCK_AFTER_SECONDS
    prune = settings.CELERY_BEAT_SCHEDULE["prune-story-index"]
    assert prune["task"] == story_tasks.prune_story_index.name
    assert settings.STORY_INDEX_KEEP_DAYS * 24 > settings.STORY_WINDOW_HOURS
