"""The digest lists stories, not articles (newsletter/services.py: the catalogue, the sent-story
record), and each channel shows one item per story with its sources, checked on the wire."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from collections.abc import Sequence

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import Article, Story, Summary
from newsletter import services
from newsletter.channels import EmailChannel
from newsletter.models import Delivery, SentStory
from tests import factories
from tests.factories import make_article, make_source, make_subscriber, publish
from tests.fakes.line_server import FakeLine
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.django_db

LINE_USER = "U" + "0123456789abcdef" * 2
HOUR = dt.timedelta(hours=1)


def covered(
    title: str,
    *,
    outlets: Sequence[str],
    copied_by: Sequence[str] = (),
    topics: Sequence = (),
    ago: dt.timedelta = HOUR,
) -> Story:
    """A story published by each of `outlets` (the first reported it first and leads it), and
    copied word for word by each of `copied_by`."""
    lead = publish(title=title, source=make_source(name=outlets[0]), topics=topics, ago=ago)
    for outlet in outlets[1:]:
        publish(
            title=f"{title} ({outlet})",
            source=make_source(name=outlet),
            story=lead.story,
            topics=topics,
            ago=ago,
        )
    for outlet in copied_by:
        make_article(title=title, source=make_source(name=outlet), story=lead.story, duplicate_of=lead)
    lead.story.refresh_from_db()
    return lead.story


def deliver(subscribers: Sequence, *, day: dt.date | None = None, now: dt.datetime | None = None):
    now = now or timezone.now()
    return services.digest_deliver_chunk(
        subscriber_ids=[s.pk for s in subscribers], day=day or now.date(), now=now
    )


def body_of(subscriber) -> str:
    """The plain-text digest the subscriber got last (locmem outbox)."""
    return [m for m in mail.outbox if m.to == [subscriber.email]][-1].body


def numbered_titles(text: str) -> list[str]:
    return re.findall(r"^\d+\. (.+?)\r?$", text, flags=re.MULTILINE)


def three_stories() -> list[Story]:
    """Ten articles: four, three (one of them a copy) and three, about three events."""
    return [
        covered(
            "Council approves the light-rail line", outlets=["City Paper", "Metro Wire", "Daily", "Herald"]
        ),
        covered(
            "Glacier melt accelerates",
            outlets=["Science Desk", "Alpine News"],
            copied_by=["Syndicate"],
            ago=2 * HOUR,
        ),
        covered(
            "Cup final goes to penalties", outlets=["Sports Hour", "Goal", "Terrace Times"], ago=3 * HOUR
        ),
    ]


# --- One item per story -------------------------------------------------------------------


def test_ten_articles_about_three_stories_make_three_items_each_crediting_every_source():
    three_stories()
    assert Article.objects.count() == 10
    items = services.digest_catalogue(until=timezone.now()).items_for()
    assert [item.title for item in items] == [
        # Latest first; each story shown by its lead, the article that reported it first.
        "Council approves the light-rail line",
        "Glacier melt accelerates",
        "Cup final goes to penalties",
    ]
    assert [item.byline for item in items] == [
        "4 sources: City Paper, Metro Wire, Daily, Herald",
        "3 sources: Science Desk, Alpine News, Syndicate",
        "3 sources: Sports Hour, Goal, Terrace Times",
    ]
    lead = Article.objects.get(title="Council approves the light-rail line")
    assert items[0].takeaway == lead.current_summary.key_takeaway
    assert items[0].source == "City Paper"


def test_a_story_whose_lead_is_not_published_is_shown_by_its_earliest_published_article():
    held = factories.make_review_article(title="Council votes tonight", source=make_source(name="City Paper"))
    story = held.story
    publish(title="Light rail approved", source=make_source(name="Metro Wire"), story=story)
    publish(title="Council backs the line", source=make_source(name="Daily"), story=story)
    story.refresh_from_db()
    assert story.lead == held  # the earliest article, still waiting on the desk

    (item,) = services.digest_catalogue(until=timezone.now()).items_for()
    assert item.title == "Light rail approved"
    # Who has published it: the article on the desk is not credited yet.
    assert item.byline == "2 sources: Metro Wire, Daily"


def test_a_story_matches_a_topic_when_any_of_its_published_articles_does():
    climate, politics, sport = (factories.make_topic(n) for n in ("Climate", "Politics", "Sport"))
    story = covered("Glacier melt accelerates", outlets=["Science Desk"], topics=[climate])
    publish(
        title="Minister visits the glacier",
        source=make_source(name="Capital"),
        story=story,
        topics=[politics],
    )
    # An article still on the desk does not make the story a sport story.
    factories.make_review_article(title="Ski season cut short", story=story).topics.set([sport])
    climate_reader = make_subscriber(topics=[climate])
    politics_reader = make_subscriber(topics=[politics])
    sport_reader = make_subscriber(topics=[sport])

    report = deliver([climate_reader, politics_reader, sport_reader])

    assert report.sent == {"email": 2} and report.skipped == {"email": 1}
    for reader in (climate_reader, politics_reader):
        assert numbered_titles(body_of(reader)) == ["Glacier melt accelerates"]
        assert "2 sources: Science Desk, Capital" in body_of(reader)
    assert Delivery.objects.get(subscriber=sport_reader).status == "skipped"


# --- Never the same story twice unless it changed -------------------------------------------


def test_a_story_sent_yesterday_is_not_sent_again_today():
    now = timezone.now()
    # On the site 20 hours ago: inside yesterday's window (sent 12 hours ago) and today's.
    covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"], ago=20 * HOUR)
    reader = make_subscriber()
    deliver([reader], day=now.date() - dt.timedelta(days=1), now=now - 12 * HOUR)
    assert numbered_titles(body_of(reader)) == ["Council approves the light-rail line"]
    publish(title="Library opens on Sundays", ago=HOUR)

    deliver([reader], now=now)

    assert numbered_titles(body_of(reader)) == ["Library opens on Sundays"]


def test_with_nothing_new_the_digest_is_skipped_rather_than_repeating_a_story():
    now = timezone.now()
    covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"], ago=20 * HOUR)
    reader = make_subscriber()
    deliver([reader], day=now.date() - dt.timedelta(days=1), now=now - 12 * HOUR)
    assert deliver([reader], now=now).skipped == {"email": 1}
    assert len(mail.outbox) == 1


def test_a_story_that_gains_an_article_saying_nothing_new_is_not_sent_again():
    now = timezone.now()
    story = covered("Council approves the light-rail line", outlets=["City Paper"], ago=20 * HOUR)
    reader = make_subscriber()
    deliver([reader], day=now.date() - dt.timedelta(days=1), now=now - 12 * HOUR)

    # Another outlet's report joins and is published, but no summary version brought anything
    # new (no update line): the story is the same news. (Updates: test_digest_updates.py.)
    publish(title="Light rail: what it costs", source=make_source(name="Metro Wire"), story=story, ago=HOUR)

    assert deliver([reader], now=timezone.now()).skipped == {"email": 1}
    assert len(mail.outbox) == 1


def test_a_correction_without_an_update_line_goes_to_nobody_again():
    now = timezone.now()
    story = covered("Council approves the light-rail line", outlets=["City Paper"], ago=30 * HOUR)
    had_it = make_subscriber()
    deliver([had_it], day=now.date() - dt.timedelta(days=1), now=now - 25 * HOUR)
    newcomer = make_subscriber()

    article = story.articles.get()
    corrected = Summary.create_version(
        article=article,
        **factories.summary_fields(key_takeaway="The council approved a 1.9 billion dollar line."),
    )
    article.publish(corrected, reason="A typo in the cost.")
    report = deliver([had_it, newcomer], now=timezone.now())

    # An unchanged story is never sent twice; a days-old story is not news to a newcomer.
    assert report.skipped == {"email": 2}
    assert len(mail.outbox) == 1


def test_stories_a_chat_message_left_to_its_more_link_go_out_next_time(settings):
    settings.NEWSLETTER_MAX_ITEMS = 40
    now = timezone.now()
    for n in range(30):
        # Long titles fill Slack's text budget after about twenty stories.
        covered(f"Story {n:02d} " + "with a long headline " * 23, outlets=[f"Outlet {n}"], ago=20 * HOUR)
    with FakeSlack() as slack:
        reader = make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())
        deliver([reader], day=now.date() - dt.timedelta(days=1), now=now - 12 * HOUR)
        deliver([reader], now=now)
    first, second = (request["json"] for request in slack.requests)
    shown_first = [b for b in first["blocks"] if b["type"] == "section" and "Story" in b["text"]["text"]]
    shown_second = [b for b in second["blocks"] if b["type"] == "section" and "Story" in b["text"]["text"]]
    assert 10 < len(shown_first) < 30
    assert "More in today" in json.dumps(first["blocks"])
    # The next digest carries the stories the first left out, and none it showed.
    assert len(shown_first) + len(shown_second) == 30
    assert SentStory.objects.filter(subscriber=reader).count() == 30


def test_a_failed_delivery_records_no_stories_and_its_retry_sends_them(settings):
    covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"])
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.fail_next = [503]
        reader = make_subscriber(channel="line", line_user_id=LINE_USER)
        now = timezone.now()
        deliver([reader], now=now)
        assert not SentStory.objects.exists()
        delivery = Delivery.objects.get()
        services.delivery_retry(delivery_id=delivery.pk, now=delivery.next_retry_at)
    assert len(line.accepted) == 1
    assert SentStory.objects.get().delivery == delivery


def test_an_exception_mid_chunk_records_the_stories_of_the_digests_already_sent(monkeypatch):
    covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"])
    first, second = make_subscriber(), make_subscriber()
    real_send = EmailChannel.send

    def send(self, *, message, recipient):
        if recipient.email == second.email:
            raise RuntimeError("soft time limit")
        return real_send(self, message=message, recipient=recipient)

    monkeypatch.setattr(EmailChannel, "send", send)
    with pytest.raises(RuntimeError):
        deliver([first, second])
    assert list(SentStory.objects.values_list("subscriber", flat=True)) == [first.pk]


def test_a_delivery_an_operator_released_while_it_was_being_sent_records_no_stories():
    covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"])
    kept, released = make_subscriber(), make_subscriber()
    now = timezone.now()
    deliveries = services.deliveries_claim(subscribers=[kept, released], day=now.date(), now=now)
    services.delivery_release(delivery=deliveries[1])  # it goes again at the next beat run

    services.deliveries_send(deliveries=deliveries, now=now)

    assert dict(Delivery.objects.values_list("subscriber", "status")) == {
        kept.pk: "sent",
        released.pk: "failed",
    }
    assert list(SentStory.objects.values_list("subscriber", flat=True)) == [kept.pk]


def test_the_beat_forgets_what_digests_carried_once_they_are_older_than_the_setting(settings):
    settings.NEWSLETTER_SENT_STORY_DAYS = 30
    now = timezone.now()
    covered("Council approves the light-rail line", outlets=["City Paper"], ago=20 * HOUR)
    old, recent = make_subscriber(), make_subscriber()
    deliver([old], day=now.date() - dt.timedelta(days=31), now=now - 12 * HOUR)
    deliver([recent], day=now.date() - dt.timedelta(days=30), now=now - 12 * HOUR)

    assert services.digest_schedule(now=now).pruned == 1
    assert list(SentStory.objects.values_list("subscriber", flat=True)) == [recent.pk]


# --- On the wire ----------------------------------------------------------------------------


def test_the_email_on_the_wire_lists_one_item_per_story_with_its_source_count(smtp_server):
    three_stories()
    reader = make_subscriber(email="reader@example.com")
    deliver([reader])

    (envelope,) = smtp_server.envelopes
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()

    assert numbered_titles(text) == [
        "Council approves the light-rail line",
        "Glacier melt accelerates",
        "Cup final goes to penalties",
    ]
    assert "4 sources: City Paper, Metro Wire, Daily, Herald" in text
    assert "3 sources: Science Desk, Alpine News, Syndicate" in text
    headings = re.findall(r"<h2[^>]*><a href=\"([^\"]+)\"[^>]*>([^<]+)</a></h2>", html)
    assert [title for _url, title in headings] == numbered_titles(text)
    assert html.count("3 sources:") == 2 and html.count("4 sources:") == 1
    # One article per story went out: no "(Metro Wire)" rewrite is listed on its own.
    assert "(Metro Wire)" not in text + html


def test_slack_and_line_payloads_on_the_wire_carry_one_item_per_story_with_its_source_count(settings):
    three_stories()
    with FakeSlack() as slack, FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        on_slack = make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())
        on_line = make_subscriber(channel="line", line_user_id=LINE_USER)
        assert deliver([on_slack, on_line]).sent == {"slack": 1, "line": 1}

    (slack_request,) = slack.requests
    blocks = json.loads(slack_request["body"])["blocks"]
    stories = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(stories) == 3
    assert "_4 sources: City Paper, Metro Wire, Daily, Herald_" in stories[0]
    assert "|Council approves the light-rail line>" in stories[0]
    assert "_3 sources: Science Desk, Alpine News, Syndicate_" in stories[1]

    (line_request,) = line.requests
    bubble = json.loads(line_request["body"])["messages"][0]["contents"]
    texts = [c["text"] for c in bubble["body"]["contents"] if c["type"] == "text"]
    titles = [c["text"] for c in bubble["body"]["contents"] if c.get("weight") == "bold"][1:]
    assert titles == [
        "Council approves the light-rail line",
        "Glacier melt accelerates",
        "Cup final goes to penalties",
    ]
    # LINE's byline is cut to 60 characters; the count comes first and survives.
    assert [t for t in texts if "sources" in t] == [
        "4 sources: City Paper, Metro Wire, Daily, Herald",
        "3 sources: Science Desk, Alpine News, Syndicate",
        "3 sources: Sports Hour, Goal, Terrace Times",
    ]


# --- Links ----------------------------------------------------------------------------------


def test_items_link_to_the_story_page_when_several_articles_tell_it():
    single = covered("Library opens on Sundays", outlets=["City Paper"])
    several = covered("Council approves the light-rail line", outlets=["City Paper", "Metro Wire"])
    single_article = single.articles.get()

    links = {i.title: i.url for i in services.digest_catalogue(until=timezone.now()).items_for()}
    assert (
        links["Council approves the light-rail line"] == f"https://news.example.org/stories/{several.slug}/"
    )
    # One published article: its own page says it all.
    assert links["Library opens on Sundays"] == f"https://news.example.org{single_article.get_absolute_url()}"


def test_the_archive_page_shows_one_card_per_story(client):
    three_stories()
    response = client.get(f"/digest/{timezone.now().date().isoformat()}/")
    html = response.content.decode()
    assert html.count('<article class="card">') == 3
    assert "4 sources: City Paper, Metro Wire, Daily, Herald" in html


# --- Cost -----------------------------------------------------------------------------------


def many_stories(count: int) -> None:
    for n in range(count):
        covered(f"Event {n}", outlets=[f"First {n}", f"Second {n}"], copied_by=[f"Copy {n}"])


@pytest.mark.parametrize("count", [3, 30])
def test_building_and_sending_a_digest_costs_the_same_queries_for_3_stories_as_for_30(settings, count):
    settings.NEWSLETTER_MAX_ITEMS = 40
    many_stories(count)
    readers = [make_subscriber() for _ in range(3)]
    with CaptureQueriesContext(connection) as catalogue:
        items = services.digest_catalogue(until=timezone.now()).items_for()
    with CaptureQueriesContext(connection) as chunk:
        deliver(readers)
    assert len(items) == count
    assert all(item.byline.startswith("3 sources: ") for item in items)
    assert len(catalogue) == 7
    # Chunk: subscribers, their topics, the catalogue; one claim batch: claim, read it back,
    # what they were sent, and the mark with the stories sent (savepoint, update, insert, release).
    assert len(chunk) == 2 + 7 + 3 + 4
    assert SentStory.objects.count() == 3 * count


def test_a_digest_trimmed_to_its_limit_says_how_many_more_stories_the_archive_holds(client, settings):
    settings.NEWSLETTER_MAX_ITEMS = 3
    for n in range(5):
        covered(f"Event number {n}", outlets=[f"Outlet {n}"], ago=(n + 1) * HOUR)
    reader = make_subscriber()
    deliver([reader])
    (sent,) = mail.outbox
    raw = email.message_from_bytes(sent.message().as_bytes(), policy=email.policy.default)
    text = raw.get_body(("plain",)).get_content()
    html = raw.get_body(("html",)).get_content()
    archive = f"/digest/{timezone.now().date().isoformat()}/"
    assert len(numbered_titles(text)) == 3
    assert re.search(rf"^2 more stories in today's digest: \S+{re.escape(archive)}\r?$", text, re.MULTILINE)
    assert re.search(rf'<a href="[^"]+{re.escape(archive)}"[^>]*>2 more stories in today', html)
    # Only the stories shown count as sent: the two left to the archive may come next time.
    assert SentStory.objects.filter(subscriber=reader).count() == 3
    # The web archive itself is not trimmed: it lists all five.
    page = client.get(archive).content.decode()
    assert all(f"Event number {n}" in page for n in range(5))


def test_a_chat_digest_trimmed_to_its_limit_links_the_rest(settings):
    settings.NEWSLETTER_MAX_ITEMS = 3
    for n in range(5):
        covered(f"Event number {n}", outlets=[f"Outlet {n}"], ago=(n + 1) * HOUR)
    with FakeSlack() as slack:
        deliver([make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())])
    (request,) = slack.requests
    texts = [b["text"]["text"] for b in request["json"]["blocks"] if b["type"] == "section"]
    assert sum("Event number" in text for text in texts) == 3
    assert texts[-1].endswith("|More in today's digest>: 2 more stories")
