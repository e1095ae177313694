"""articles/reader/stories.py through the pages readers see: one card per story on listings,
the story page, the coverage on article pages, related articles and canonical addresses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from articles.models import Article, OpenQuestion, Story, Summary
from tests import factories

from .conftest import hours_ago, publish_in

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _uncached_pages(settings):
    # These tests change stories between requests inside one transaction, where on-commit
    # invalidation never runs (test_invalidation.py tests that).
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0


def _cards(html: str) -> list[str]:
    return re.findall(r'<article class="card">.*?</article>', html, re.S)


def _text(html: str) -> str:
    """What a reader reads: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _canonical(html: str) -> str:
    return re.search(r'<link rel="canonical" href="([^"]+)">', html).group(1)


# --- Listings ------------------------------------------------------------------------------


def test_the_home_page_shows_a_story_once_with_its_sources_and_first_reporter(client, rail):
    other = factories.publish(title="Ferry timetable changes")

    cards = _cards(client.get("/").content.decode())

    assert len(cards) == 2
    (card,) = [c for c in cards if rail.story.get_absolute_url() in c]
    # The Wire reported first but its report is not on the site: the story's summary is the
    # Gazette's, the earliest report that carries one.
    assert rail.gazette.get_absolute_url() in card and rail.gazette.title in card
    assert "The Gazette&#x27;s summary" in card
    assert rail.tribune.title not in card and "Tribune&#x27;s summary" not in card
    text = _text(card)
    assert "4 sources covering" in text
    assert "Wire Service, City Gazette, Harbour Herald, Valley Tribune" in text
    assert "first reported by Wire Service" in text
    first_report = rail.wire.published_at.replace(microsecond=0).isoformat()
    assert f'<time datetime="{first_report}"' in card
    # A story of one article needs no coverage line and has no story page link.
    (single,) = [c for c in cards if other.title in c]
    assert "sources" not in _text(single) and "/stories/" not in single


def test_the_card_shows_the_first_reports_summary_once_it_leads_and_is_on_the_site(client, rail, editor):
    summary = Summary.create_version(
        article=rail.wire, **factories.summary_fields(key_takeaway="The Wire's own summary.")
    )
    rail.wire.transition_to(Article.Status.SUMMARIZING)
    rail.wire.transition_to(Article.Status.IN_REVIEW)
    rail.wire.publish(summary, by=editor)
    rail.story.recount()

    (card,) = _cards(client.get("/").content.decode())

    assert "The Wire&#x27;s own summary." in card and rail.wire.get_absolute_url() in card
    assert "Gazette&#x27;s summary" not in card


def test_a_story_with_no_article_on_the_site_appears_nowhere(client, rail):
    hidden = factories.make_story(articles=3)
    in_review = factories.make_review_article(story=hidden, title="Tram depot draft")
    html = client.get("/").content.decode()

    assert len(_cards(html)) == 1
    assert hidden.get_absolute_url() not in html and in_review.title not in html
    assert client.get(hidden.get_absolute_url()).status_code == 404
    assert client.get("/stories/no-such-story/").status_code == 404


def test_topic_and_source_pages_list_the_stories_with_an_article_there(client, rail):
    other = factories.publish(title="Ferry timetable changes", topics=[rail.topic])

    topic_cards = _cards(client.get(rail.topic.get_absolute_url()).content.decode())
    # The Tribune's article is the one in Transport; the card still shows the story's summary.
    assert len(topic_cards) == 2
    assert any(rail.gazette.get_absolute_url() in c for c in topic_cards)
    assert any(other.title in c for c in topic_cards)

    for article in (rail.gazette, rail.tribune):
        (card,) = _cards(client.get(article.source.get_absolute_url()).content.decode())
        assert rail.story.get_absolute_url() in card
    # Neither the first report nor the copy is on the site: their sources' pages stay empty.
    for article in (rail.wire, rail.copy):
        assert _cards(client.get(article.source.get_absolute_url()).content.decode()) == []


def test_two_articles_of_one_story_in_the_same_topic_and_from_the_same_source_are_one_card_there(
    client, rail
):
    # The Tribune publishes a second report on the vote, also in Transport: the topic and the
    # Tribune's page now each hold two of the story's articles on the site.
    second = publish_in(
        rail.story,
        source=rail.tribune.source,
        title="Tribune: what the light-rail vote means for fares",
        takeaway="T.",
        reported=1,
        live=0.5,
    )
    second.topics.add(rail.topic)
    other = factories.publish(
        title="Ferry timetable changes", topics=[rail.topic], source=rail.tribune.source
    )

    for page in (rail.topic.get_absolute_url(), rail.tribune.source.get_absolute_url()):
        cards = _cards(client.get(page).content.decode())
        assert len(cards) == 2, page
        assert [c for c in cards if rail.story.get_absolute_url() in c] == cards[:1], page  # newest first
        assert other.title in cards[1]


def test_stories_are_ordered_by_their_latest_publication_and_paginated_as_stories(client, rail):
    source = factories.make_source()
    for n in range(24):
        story = factories.make_story(title=f"Harbour story {n}")
        for k in range(2):  # two summaries each: 48 articles, 24 stories
            publish_in(
                story, source=source, title=f"Harbour {n} part {k}", takeaway="T.", reported=3, live=0.5
            )
    first, second = (_cards(client.get(url).content.decode()) for url in ("/", "/?page=2"))
    assert (len(first), len(second)) == (20, 5)
    assert not any(rail.story.get_absolute_url() in c for c in first)

    # A new summary in the rail story brings it to the top.
    publish_in(
        rail.story, source=source, title="Follow-up on light rail", takeaway="T.", reported=0.5, live=0
    )
    (top, *_) = _cards(client.get("/").content.decode())
    assert rail.story.get_absolute_url() in top


def test_an_article_in_no_story_yet_is_a_card_of_its_own(client):
    article = factories.publish(title="Not grouped yet")
    Article.objects.filter(pk=article.pk).update(story=None)

    (card,) = _cards(client.get("/").content.decode())

    assert article.get_absolute_url() in card and "/stories/" not in card
    assert client.get(article.get_absolute_url()).status_code == 200


# --- The story page ------------------------------------------------------------------------


def test_the_story_page_shows_the_summary_and_all_coverage_crediting_the_first_report(client, rail):
    response = client.get(rail.story.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    main = html[html.index("<main") :]

    # The story takes the title of its lead, the report that carries its summary.
    assert f"<h1>{rail.gazette.title}</h1>" in main
    assert "The Gazette&#x27;s summary: a 2.4 billion dollar line." in main
    assert "4 sources" in _text(main)
    assert re.search(
        r'first reported by <a href="https://wire.example.com/rail" rel="noopener">Wire Service</a>', main
    )
    coverage = main[main.index("All coverage") :]
    # Earliest first; summaries on the site link to their pages, the rest to the original.
    positions = [
        coverage.index('href="https://wire.example.com/rail"'),
        coverage.index(f'href="{rail.gazette.get_absolute_url()}"'),
        coverage.index('href="https://herald.example.com/rail-repost"'),
        coverage.index(f'href="{rail.tribune.get_absolute_url()}"'),
    ]
    assert positions == sorted(positions)
    assert "Also published by" in _text(coverage) and "Harbour Herald" in coverage
    # Two summaries on the site: the story page is a page of its own.
    assert _canonical(html) == SITE + rail.story.get_absolute_url()


def test_a_story_with_one_article_on_the_site_names_that_article_page_as_canonical(client):
    story = factories.make_story(title="Bridge closes for repairs")
    only = publish_in(
        story, source=factories.make_source(), title="Bridge closes", takeaway="T.", reported=3, live=2
    )
    factories.make_article(story=story, duplicate_of=only, url="https://copy.example.com/bridge")

    html = client.get(story.get_absolute_url()).content.decode()

    assert _canonical(html) == SITE + only.get_absolute_url()
    assert _canonical(client.get(only.get_absolute_url()).content.decode()) == SITE + only.get_absolute_url()


def test_a_rejected_article_is_no_part_of_the_coverage_readers_see(client, rail):
    rejected = factories.make_article(
        story=rail.story,
        source=factories.make_source(name="Rumour Mill"),
        status=Article.Status.REJECTED,
        published_at=hours_ago(6),
    )
    for url in ("/", rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        html = client.get(url).content.decode()
        assert "Rumour Mill" not in html and rejected.url not in html, url
        assert "first reported by wire service" in _text(html).lower(), url


# --- The article page ----------------------------------------------------------------------


def test_the_article_page_shows_the_other_coverage_copies_and_the_first_report(client, rail):
    html = client.get(rail.gazette.get_absolute_url()).content.decode()
    section = html[html.index('class="coverage"') :]
    section = section[: section.index("</section>")]
    text = _text(section)

    assert "First reported by Wire Service" in text
    assert 'href="https://wire.example.com/rail"' in section
    also_covered = section[section.index("Also covered by") : section.index("Also published by")]
    assert f'href="{rail.tribune.get_absolute_url()}">Valley Tribune</a>' in also_covered
    assert 'href="https://wire.example.com/rail" rel="noopener">Wire Service</a>' in also_covered
    assert "Harbour Herald" not in also_covered
    # The Herald's repost of this very text is a copy: "also published by", linking to it.
    also_published = section[section.index("Also published by") :]
    assert 'href="https://herald.example.com/rail-repost" rel="noopener">Harbour Herald</a>' in also_published
    assert f'href="{rail.story.get_absolute_url()}"' in section and "(4 sources)" in text


def test_on_another_articles_page_a_copy_is_coverage_not_also_published(client, rail):
    tribune_html = client.get(rail.tribune.get_absolute_url()).content.decode()
    section = tribune_html[tribune_html.index('class="coverage"') :]
    # On the Tribune's page the Herald's copy is of another article: plain coverage.
    assert 'href="https://herald.example.com/rail-repost" rel="noopener">Harbour Herald</a>' in section
    assert "Also published by" not in section[: section.index("</section>")]


def test_an_article_alone_in_its_story_shows_no_coverage_and_no_story_link(client, published_article):
    html = client.get(published_article.get_absolute_url()).content.decode()
    assert 'class="coverage"' not in html and "/stories/" not in html


def test_a_published_copy_names_its_originals_page_as_canonical(client, rail):
    # Copies stay unpublished; one published before it was found to be a copy still points
    # search engines at the one address of that text.
    legacy = publish_in(
        rail.story, source=factories.make_source(), title="Repost", takeaway="T.", reported=2.5, live=0.5
    )
    Article.objects.filter(pk=legacy.pk).update(duplicate_of=rail.gazette)

    html = client.get(legacy.get_absolute_url()).content.decode()

    assert _canonical(html) == SITE + rail.gazette.get_absolute_url()


# --- Related articles ----------------------------------------------------------------------


def test_related_articles_prefer_other_stories_and_never_show_the_same_story(client, rail):
    topic = rail.topic
    rail.gazette.topics.add(topic)
    busy = factories.make_story(title="Busy harbour story")
    busy_articles = [
        publish_in(
            busy,
            source=factories.make_source(),
            title=f"Harbour {n}",
            takeaway="T.",
            reported=1,
            live=0.1 * n,
        )
        for n in range(1, 4)
    ]
    for n in range(2):
        factories.publish(title=f"Quiet story {n}", topics=[topic], ago=timedelta(hours=2 + n))
    for article in busy_articles:
        article.topics.add(topic)

    html = client.get(rail.gazette.get_absolute_url()).content.decode()
    related = html[html.index("Related articles") :]
    titles = re.findall(r'class="card__title"><a href="[^"]+">([^<]+)</a>', related)

    # Same story: never (the Tribune is in Transport and newer than everything else).
    assert rail.tribune.title not in titles
    # One of the busy story first, then the other stories, then the busy story again.
    assert set(titles) == {"Harbour 1", "Harbour 2", "Quiet story 0", "Quiet story 1"}
    assert titles == ["Harbour 1", "Harbour 2", "Quiet story 0", "Quiet story 1"]  # newest first


def test_a_merged_story_address_leads_to_the_story_it_joined(client, editor):
    from articles.desk.stories import story_merge

    kept = factories.make_story(title="Council approves light rail")
    factories.publish(title="Light rail approved", story=kept)
    merged = factories.make_story(title="Light rail vote")
    factories.publish(title="Council votes for light rail", story=merged)
    old_url = merged.get_absolute_url()

    story_merge(story=merged, into=kept, by=editor, reason="same vote")

    response = client.get(old_url)
    assert response.status_code == 301
    assert response["Location"] == kept.get_absolute_url()


# --- Updates, the timeline and follow-ups ----------------------------------------------------


def _section(html: str, css_class: str) -> str:
    start = html.index(f'<section class="{css_class}"')
    return html[start : html.index("</section>", start)]


def test_an_update_says_when_and_what_it_added_near_the_top_and_is_no_correction(client, rail, editor):
    update = factories.publish_story_summary(
        rail.gazette, [rail.gazette, rail.tribune], by=editor, update_line="The Tribune reports a close vote."
    )
    stamp = update.approved_at.replace(microsecond=0).isoformat()

    for url in (rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        html = client.get(url).content.decode()
        line = re.search(r'<p class="update-line">(.*?)</p>', html, re.S)
        assert line, url
        assert f'<time datetime="{stamp}"' in line.group(1)
        assert _text(line.group(1)).startswith("Updated ")
        assert _text(line.group(1)).endswith(": The Tribune reports a close vote.")
        assert html.index('class="update-line"') < html.index("Key takeaway")
        # New facts are an update, not a correction of what readers were told.
        assert "corrected on" not in html, url
    log = client.get("/corrections/").content.decode()
    assert rail.gazette.title not in log


def test_a_correction_after_an_update_is_still_a_correction(client, rail, editor):
    factories.publish_story_summary(
        rail.gazette, [rail.gazette, rail.tribune], by=editor, update_line="More."
    )
    fix = Summary.create_version(
        article=rail.gazette, **factories.summary_fields(kind="editor", producer="Erin Editor")
    )
    rail.gazette.refresh_from_db()
    rail.gazette.publish(fix, by=editor)

    html = client.get(rail.gazette.get_absolute_url()).content.decode()
    assert 'class="update-line"' not in html and "This summary was corrected on" in html
    assert rail.gazette.title in client.get("/corrections/").content.decode()


def test_the_timeline_lists_the_storys_developments_newest_first_with_dates(client, rail):
    first = factories.make_story_update(
        rail.story, "The council approved the line.", happened_at=hours_ago(4)
    )
    factories.make_story_update(rail.story, "The Tribune reports a close vote.", happened_at=hours_ago(1))

    for url in (rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        timeline = _section(client.get(url).content.decode(), "timeline")
        entries = re.findall(r'<li><time datetime="([^"]+)">[^<]+</time>: ([^<]+)</li>', timeline)
        assert [text for _, text in entries] == [
            "The Tribune reports a close vote.",
            "The council approved the line.",
        ]
        assert entries[1][0] == first.happened_at.replace(microsecond=0).isoformat()
    # The Tribune's page shows its own summary, not the story's: no timeline there.
    assert 'class="timeline"' not in client.get(rail.tribune.get_absolute_url()).content.decode()


def test_a_timeline_of_only_the_first_report_is_not_shown(client, rail, editor):
    # Publishing opens the story's timeline with its first report, which the summary tells.
    factories.publish_story_summary(rail.gazette, [rail.gazette, rail.tribune], by=editor)
    assert rail.story.updates.count() == 1

    for url in (rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        assert 'class="timeline"' not in client.get(url).content.decode(), url


def test_an_answered_question_links_the_old_story_to_the_new_one_and_back(client, rail):
    later = factories.publish(title="Hearings on the light-rail route begin").story
    factories.make_follow_up(rail.story, answered_by=later, text="When will hearings begin?")

    for url in (rail.story.get_absolute_url(), rail.gazette.get_absolute_url()):
        follow_ups = _section(client.get(url).content.decode(), "follow-ups")
        assert f'Follow-up: <a href="{later.get_absolute_url()}">{later.title}</a>' in follow_ups, url
        assert "When will hearings begin?" in follow_ups
    answering = _section(client.get(later.get_absolute_url()).content.decode(), "follow-ups")
    assert f'Follows up: <a href="{rail.story.get_absolute_url()}">{rail.story.title}</a>' in answering


def test_a_question_not_yet_accepted_or_answered_off_the_site_shows_nowhere(client, rail):
    proposed = OpenQuestion.objects.create(story=rail.story, text="Will the budget grow?")
    elsewhere = factories.publish(title="Budget review").story
    proposed.transition_to(OpenQuestion.Status.PROPOSED, answer_story=elsewhere)
    hidden = factories.make_story(articles=1, title="Not on the site yet")
    factories.make_follow_up(rail.story, answered_by=hidden)

    html = client.get(rail.story.get_absolute_url()).content.decode()

    assert 'class="follow-ups"' not in html
    assert 'class="follow-ups"' not in client.get(elsewhere.get_absolute_url()).content.decode()


def test_a_follow_up_to_a_story_merged_away_links_to_the_story_it_joined(client, rail):
    answer = factories.publish(title="Hearings begin").story
    kept = factories.publish(title="Light-rail hearings: the full picture").story
    factories.make_follow_up(rail.story, answered_by=answer)
    Article.objects.filter(story=answer).update(story=kept)
    Story.objects.filter(pk=answer.pk).update(merged_into=kept)

    follow_ups = _section(client.get(rail.story.get_absolute_url()).content.decode(), "follow-ups")

    assert f'<a href="{kept.get_absolute_url()}">{kept.title}</a>' in follow_ups
    assert "Follows up:" in _section(client.get(kept.get_absolute_url()).content.decode(), "follow-ups")
