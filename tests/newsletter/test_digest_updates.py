"""The digest sends a story again only when it was updated, led by its update line, and tells
the readers of a story's topics about an accepted follow-up (newsletter/services.py: the
catalogue and `Catalogue.entries_for`), checked on the wire: the email's MIME parts as the SMTP
server received them, and the Slack and LINE payloads as the loopback fakes received them."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re

import pytest
from django.core import mail
from django.utils import timezone

from articles.desk import stories as desk_stories
from articles.models import Article, OpenQuestion, Story, StoryUpdate, Summary
from articles.stories.store import DatabaseStore
from newsletter import services
from newsletter.models import Delivery, SentStory
from tests import factories
from tests.factories import make_source, make_subscriber, publish
from tests.fakes.line_server import FakeLine
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.django_db

LINE_USER = "U" + "0123456789abcdef" * 2
HOUR = dt.timedelta(hours=1)
RAIL = "Council approves the light-rail line"
UPDATE = "The council chose the route across the river and a builder."


def deliver(subscribers, *, now: dt.datetime | None = None, day: dt.date | None = None):
    now = now or timezone.now()
    return services.digest_deliver_chunk(
        subscriber_ids=[s.pk for s in subscribers], day=day or now.date(), now=now
    )


def tomorrow(subscribers):
    """The next day's digest, an hour from now (the next local date)."""
    later = timezone.now() + HOUR
    return deliver(subscribers, now=later, day=later.date() + dt.timedelta(days=1))


def yesterday(subscribers) -> None:
    """Yesterday's digest, sent 12 hours ago."""
    now = timezone.now() - 12 * HOUR
    services.digest_deliver_chunk(
        subscriber_ids=[s.pk for s in subscribers], day=now.date() - dt.timedelta(days=1), now=now
    )


def bodies(subscriber) -> list[str]:
    return [m.body for m in mail.outbox if m.to == [subscriber.email]]


def numbered_titles(text: str) -> list[str]:
    return re.findall(r"^\d+\. (.+?)\r?$", text, flags=re.MULTILINE)


def story_of(title: str, *, source: str = "City Paper", topics=(), ago: dt.timedelta = 20 * HOUR) -> Story:
    article = publish(title=title, source=make_source(name=source), topics=topics, ago=ago)
    return Story.objects.get(pk=article.story_id)


def update(
    story: Story, line: str = UPDATE, *, takeaway: str = "The council picked a route and a builder."
) -> Summary:
    """A later version of the story's summary that brought something new, published with its
    update line (publishing puts it on the story's timeline)."""
    lead = Article.objects.get(pk=story.lead_id)
    version = Summary.create_version(
        article=lead, update_line=line, **factories.summary_fields(key_takeaway=takeaway)
    )
    lead.publish(version, automatic=True)
    assert StoryUpdate.objects.filter(story=story, summary=version, text=line).exists()
    return version


def follow_up(old: Story, answer: Story, *, accepted: bool = True) -> OpenQuestion:
    """An open question of `old` answered by `answer`, accepted by an editor (or only proposed)."""
    question = OpenQuestion.objects.create(
        story=old, text="The first hearings on the route come in the spring."
    )
    question.transition_to(
        OpenQuestion.Status.PROPOSED,
        answer_article_id=answer.lead_id,
        answer_story=answer,
        answer_score=0.6,
    )
    if accepted:
        question.transition_to(OpenQuestion.Status.ACCEPTED)
    return question


# --- Updates --------------------------------------------------------------------------------------


def test_an_updated_story_goes_again_led_by_its_update_line_and_only_once():
    story = story_of(RAIL)
    reader = make_subscriber()
    yesterday([reader])
    update(story)

    deliver([reader])

    text = bodies(reader)[-1]
    assert numbered_titles(text) == [RAIL]
    assert f"   City Paper\n   Updated: {UPDATE}\n   The council picked a route and a builder." in text
    assert SentStory.objects.filter(subscriber=reader, story=story).count() == 2
    # Tomorrow it has not changed again: not a third time.
    assert tomorrow([reader]).skipped == {"email": 1}


def test_an_update_goes_to_those_who_had_the_story_and_a_fresh_story_to_everyone():
    story = story_of(RAIL, ago=30 * HOUR)
    had_it, newcomer = make_subscriber(), make_subscriber()
    services.digest_deliver_chunk(
        subscriber_ids=[had_it.pk], day=(timezone.now() - 25 * HOUR).date(), now=timezone.now() - 25 * HOUR
    )
    update(story)

    report = deliver([had_it, newcomer])

    assert report.sent == {"email": 1} and report.skipped == {"email": 1}
    assert f"Updated: {UPDATE}" in bodies(had_it)[-1]
    assert Delivery.objects.get(subscriber=newcomer).status == Delivery.Status.SKIPPED


def test_a_first_time_reader_gets_an_updated_story_without_the_update_line():
    story = story_of(RAIL, ago=3 * HOUR)
    update(story)
    reader = make_subscriber()

    deliver([reader])

    text = bodies(reader)[-1]
    assert numbered_titles(text) == [RAIL] and "Updated:" not in text
    assert "The council picked a route and a builder." in text  # the current version


def test_a_timeline_entry_without_an_update_line_sends_nothing_again():
    story = story_of(RAIL)
    reader = make_subscriber()
    yesterday([reader])
    # The first publication on the story's timeline (no update line): nothing new.
    StoryUpdate.objects.create(story=story, text="First reported.", summary=story.lead.current_summary)

    assert deliver([reader]).skipped == {"email": 1}


def test_a_reader_who_missed_two_updates_gets_the_latest_line_once():
    story = story_of(RAIL, ago=40 * HOUR)
    reader = make_subscriber()
    services.digest_deliver_chunk(
        subscriber_ids=[reader.pk], day=(timezone.now() - 30 * HOUR).date(), now=timezone.now() - 30 * HOUR
    )
    update(story, "The council chose the route.")
    StoryUpdate.objects.filter(story=story).update(happened_at=timezone.now() - 26 * HOUR)
    update(story, "A builder was named.")

    deliver([reader])

    text = bodies(reader)[-1]
    assert numbered_titles(text) == [RAIL]
    assert "Updated: A builder was named." in text and "The council chose the route." not in text


# --- Merged stories -----------------------------------------------------------------------------------


def editor_merge(story: Story, into: Story) -> None:
    editor = factories.make_user(group="Editors", staff=True)
    desk_stories.story_merge(story=story, into=into, by=editor, reason="The same vote.")


def automatic_merge(story: Story, into: Story) -> None:
    """What consolidation writes when a report fits both stories: the older story (the lower
    key) takes the younger's articles (articles/stories/store.py: DatabaseStore.merge)."""
    assert into.pk < story.pk
    DatabaseStore().merge(into.pk, story.pk, into.profile, into.member_vectors)


MERGES = {"editor": editor_merge, "automatic": automatic_merge}


@pytest.mark.parametrize("merge", list(MERGES))
def test_a_reader_who_had_a_story_merged_away_does_not_get_the_story_it_joined_as_new(merge):
    kept = story_of(RAIL, ago=6 * HOUR)  # on the site after yesterday's digest
    merged = story_of("Light rail wins the council vote", source="Metro Wire")
    had_it = make_subscriber()
    yesterday([had_it])
    assert numbered_titles(bodies(had_it)[-1]) == ["Light rail wins the council vote"]
    newcomer = make_subscriber()

    MERGES[merge](merged, kept)
    report = deliver([had_it, newcomer])

    # The same event, nothing new since: not again to the reader who had it, once to the other.
    assert report.skipped == {"email": 1}
    assert numbered_titles(bodies(newcomer)[-1]) == [RAIL]
    assert "Updated:" not in bodies(newcomer)[-1]


@pytest.mark.parametrize("merge", list(MERGES))
def test_an_update_of_a_story_merged_away_goes_to_the_readers_of_either_story(merge):
    city, transport = factories.make_topic("City"), factories.make_topic("Transport")
    kept = story_of(RAIL, topics=[city])
    merged = story_of("Light rail wins the council vote", source="Metro Wire", topics=[transport])
    had_kept, had_merged = make_subscriber(topics=[city]), make_subscriber(topics=[transport])
    yesterday([had_kept, had_merged])
    assert [numbered_titles(bodies(s)[-1]) for s in (had_kept, had_merged)] == [
        [RAIL],
        ["Light rail wins the council vote"],
    ]
    update(merged)

    MERGES[merge](merged, kept)
    deliver([had_kept, had_merged])

    for reader in (had_kept, had_merged):
        text = bodies(reader)[-1]
        assert numbered_titles(text) == [RAIL]
        assert f"Updated: {UPDATE}" in text
        assert SentStory.objects.filter(subscriber=reader).latest("pk").story_id == kept.pk
    assert tomorrow([had_kept, had_merged]).skipped == {"email": 2}


# --- Follow-ups -------------------------------------------------------------------------------------


def test_an_accepted_follow_up_goes_to_the_readers_of_the_old_story_s_topics():
    transport, sport = factories.make_topic("Transport"), factories.make_topic("Sport")
    old = story_of(RAIL, topics=[transport], ago=5 * 24 * HOUR)
    answer = story_of(
        "Hundreds pack first hearing on the light-rail route", source="Metro Wire", ago=3 * HOUR
    )
    follow_up(old, answer)
    commuter, fan, everything = (
        make_subscriber(topics=[transport]),
        make_subscriber(topics=[sport]),
        make_subscriber(),
    )

    deliver([commuter, fan, everything])

    title = f"Follow-up to {RAIL}: Hundreds pack first hearing on the light-rail route"
    assert numbered_titles(bodies(commuter)[-1]) == [title]
    # A reader of everything would get the answering story as news too: the follow-up stands
    # for it (one item), and both count as sent.
    assert numbered_titles(bodies(everything)[-1]) == [title]
    assert set(SentStory.objects.filter(subscriber=everything).values_list("story_id", flat=True)) == {
        old.pk,
        answer.pk,
    }
    assert Delivery.objects.get(subscriber=fan).status == Delivery.Status.SKIPPED
    # It links to the answering story, and counts as sent for the old story.
    answer_article = Article.objects.get(pk=answer.lead_id)
    assert f"https://news.example.org{answer_article.get_absolute_url()}" in bodies(commuter)[-1]
    assert SentStory.objects.get(subscriber=commuter).story_id == old.pk


def test_a_follow_up_is_sent_once():
    old = story_of(RAIL, ago=5 * 24 * HOUR)
    answer = story_of(
        "Hundreds pack first hearing on the light-rail route", source="Metro Wire", ago=3 * HOUR
    )
    follow_up(old, answer)
    reader = make_subscriber()
    deliver([reader])

    assert tomorrow([reader]).skipped == {"email": 1}


def test_a_proposal_not_yet_accepted_an_answer_not_on_the_site_and_an_answer_in_the_same_story_send_nothing():
    old = story_of(RAIL, ago=5 * 24 * HOUR)
    waiting = story_of("Hearing dates set", source="Metro Wire", ago=5 * 24 * HOUR)
    follow_up(old, waiting, accepted=False)
    unpublished = factories.make_review_article(title="Hearing draws crowds").story
    follow_up(old, unpublished)
    follow_up(old, old)  # answered by a later report in its own story: its update says it
    reader = make_subscriber()

    assert services.digest_catalogue(until=timezone.now()).items_for() == []
    assert deliver([reader]).skipped == {"email": 1}


# --- On the wire ---------------------------------------------------------------------------------------


@pytest.fixture
def updated_and_followed_up():
    """A reader had the rail story yesterday; today it was updated, and a question of an older
    story was answered by a new one."""
    rail = story_of(RAIL)
    old = story_of("Museum closes for renovation", source="Arts Weekly", ago=6 * 24 * HOUR)
    answer = story_of("National museum reopens after renovation", source="Arts Weekly", ago=2 * HOUR)
    return rail, old, answer


def test_the_email_on_the_wire_leads_the_updated_story_with_its_line_and_titles_the_follow_up(
    smtp_server, updated_and_followed_up
):
    rail, old, answer = updated_and_followed_up
    reader = make_subscriber(email="reader@example.com")
    yesterday([reader])
    update(rail, "Costs rose to <2.6 billion> dollars & the route changed.")
    follow_up(old, answer)

    deliver([reader])

    envelope = smtp_server.envelopes[-1]
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    follow_title = "Follow-up to Museum closes for renovation: National museum reopens after renovation"
    assert numbered_titles(text) == [follow_title, RAIL]
    assert "   Updated: Costs rose to <2.6 billion> dollars & the route changed." in text.splitlines()
    headings = re.findall(r"<h2[^>]*><a href=\"([^\"]+)\"[^>]*>([^<]+)</a></h2>", html)
    assert [title for _url, title in headings] == [follow_title, RAIL]
    # The line leads the item's text, escaped once, before the takeaway.
    lead = re.search(r"<p style=\"[^\"]*font-weight:bold;\">([^<]+)</p>\s*<p[^>]*>([^<]+)</p>", html)
    assert lead.group(1) == "Updated: Costs rose to &lt;2.6 billion&gt; dollars &amp; the route changed."
    assert lead.group(2) == "The council picked a route and a builder."
    assert html.count("Updated:") == 1


def test_slack_and_line_payloads_on_the_wire_lead_the_updated_story_with_its_line(
    settings, updated_and_followed_up
):
    rail, old, answer = updated_and_followed_up
    with FakeSlack() as slack, FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        on_slack = make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())
        on_line = make_subscriber(channel="line", line_user_id=LINE_USER)
        yesterday([on_slack, on_line])
        update(rail, "Costs rose to <2.6 billion> dollars & the route changed.")
        follow_up(old, answer)
        assert deliver([on_slack, on_line]).sent == {"slack": 1, "line": 1}

    slack_request = slack.requests[-1]
    blocks = json.loads(slack_request["body"])["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == 2
    assert (
        "|Follow-up to Museum closes for renovation: National museum reopens after renovation>" in sections[0]
    )
    assert sections[1].split("\n")[1:] == [
        "*Updated: Costs rose to &lt;2.6 billion&gt; dollars &amp; the route changed.*",
        "_City Paper_ — The council picked a route and a builder.",
    ]

    bubble = json.loads(line.requests[-1]["body"])["messages"][0]["contents"]
    texts = [c["text"] for c in bubble["body"]["contents"] if c["type"] == "text"]
    follow_title = "Follow-up to Museum closes for renovation: National museum reopens after renovation"
    assert texts[1] == follow_title
    rail_at = texts.index(RAIL)
    assert texts[rail_at + 1 : rail_at + 4] == [
        "City Paper",
        "Updated: Costs rose to <2.6 billion> dollars & the route changed.",
        "The council picked a route and a builder.",
    ]
    assert "Updated:" not in " ".join(texts[:rail_at])
