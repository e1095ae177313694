"""Slack and LINE payloads stay within each service's limits whatever the stories hold.

Payloads are built from many long, hostile stories, sent through the real channel client to the
loopback fakes (which refuse what the real services refuse), and checked on the raw JSON that
went over the wire. A payload LINE refuses is our failure: the subscriber is left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import unicodedata

import pytest
from django.utils import timezone

from newsletter import services
from newsletter.channels import (
    ChannelError,
    DigestItem,
    DigestMessage,
    FailureKind,
    LineChannel,
    Recipient,
    SlackChannel,
)
from newsletter.models import Delivery
from tests.factories import make_subscriber, publish
from tests.fakes.line_server import FakeLine
from tests.fakes.slack_server import FakeSlack

LINE_USER = "U" + "0123456789abcdef" * 2
RETRY_KEY = "123e4567-e89b-12d3-a456-426614174000"
ARCHIVE = "https://news.example.org/digest/2026-11-24/"

# Slack mentions and link markup, mrkdwn formatting, entities, bidi override, control characters.
MARKUP = (
    "<!channel> <!here|here> <@U0123> <https://evil.example|click> a|b & &amp; *b* _i_ ~s~ `c` "
    "\u202e\n\t\x00\x1b"
)
ALPHABETS = {
    "markup": MARKUP,
    "emoji": "😀🎉👩‍👩‍👧 ",  # astral: 2 UTF-16 units and 12 bytes of \u-escaped JSON each
    "cjk": "漢字かなカナ한글 ",
}


def hostile(alphabet: str, size: int, n: int) -> str:
    """About `size` characters of `alphabet` in words of varying length."""
    words = [f"{alphabet * (1 + (n + i) % 3)}w{i}" for i in range(size // len(alphabet) + 1)]
    return " ".join(words)[:size]


def many_hostile_items(alphabet: str, count: int = 100) -> list[DigestItem]:
    items = [
        DigestItem(
            title=hostile(alphabet, 5000, n),
            source=hostile(alphabet, 1000, n),
            takeaway=hostile(alphabet, 5000, n + 1),
            url=f"https://news.example.org/a/story-{n}/",
        )
        for n in range(count)
    ]
    # One unbreakable 5 KB word, a link longer than any service takes, one that would end a
    # Slack link early, and empty fields.
    odd = [
        DigestItem(title="x" * 5000, source="", takeaway="", url="https://news.example.org/" + "y" * 5000),
        DigestItem(title="Pipes", source="S", takeaway="T", url="https://news.example.org/a|b>c d&e/"),
    ]
    return items[:1] + odd[: count - 1] + items[1 + len(odd) :]


def digest(items: list[DigestItem]) -> DigestMessage:
    return DigestMessage(
        day=dt.date(2026, 11, 24),
        items=items,
        archive_url=ARCHIVE,
        preferences_url="https://news.example.org/newsletter/preferences/tok/",
        unsubscribe_url="https://news.example.org/newsletter/unsubscribe/tok/",
        site_name="Newsroom <!channel> & co",
    )


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def send_to_slack(message: DigestMessage) -> tuple[bytes, dict]:
    with FakeSlack() as slack:
        channel = SlackChannel()
        channel.send(message=message, recipient=Recipient(slack_webhook_url=slack.webhook_url()))
        channel.close()
    (request,) = slack.requests
    return request["body"], json.loads(request["body"])


def send_to_line(settings, message: DigestMessage) -> tuple[bytes, dict]:
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        channel = LineChannel()
        channel.send(message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY))
        channel.close()
    (request,) = line.requests
    assert len(line.accepted) == 1
    return request["body"], json.loads(request["body"])


def assert_safe_mrkdwn(text: str) -> None:
    """Every < opens one of our links, every & is one of the three entities: nothing in it can
    mention, notify or link on its own."""
    assert re.sub(r"&(amp|lt|gt);", "", text).count("&") == 0
    links = re.findall(r"<([^<>]*)>", text)
    assert text.count("<") == text.count(">") == len(links)
    for link in links:
        url, _, label = link.partition("|")
        assert url.startswith("https://news.example.org/") and label
        assert not any(ch.isspace() for ch in url)


# --- Slack --------------------------------------------------------------------------------


@pytest.mark.parametrize("alphabet", ALPHABETS.values(), ids=ALPHABETS.keys())
def test_a_slack_digest_of_many_long_hostile_stories_keeps_every_block_kit_limit(alphabet):
    message = digest(many_hostile_items(alphabet))
    raw, payload = send_to_slack(message)  # the fake refuses what Slack refuses

    blocks = payload["blocks"]
    assert len(blocks) <= 50
    (header,) = [b for b in blocks if b["type"] == "header"]
    assert 0 < utf16_units(header["text"]["text"]) <= 150
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    texts += [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert all(0 < utf16_units(text) <= 3000 for text in texts)
    assert sum(utf16_units(text) for text in texts) <= 12_000
    assert 0 < utf16_units(payload["text"]) <= 3000
    for text in [*texts, payload["text"]]:
        assert_safe_mrkdwn(text)
    # The only control character is the line break between a story's title and its takeaway.
    controls = {ch for text in [*texts, payload["text"]] for ch in text if unicodedata.category(ch) == "Cc"}
    assert controls == {"\n"}
    # The header is plain_text, which Slack shows as it is and never parses for mentions: the
    # site name's markup may stand there, and nowhere else.
    assert raw.count(b"<!channel>") == header["text"]["text"].count("<!channel>") == 1
    assert b"<!here" not in raw and b"<@U0123>" not in raw

    # Stories left out are announced with a link to the day's archive.
    stories = [t for t in texts if t.startswith("*")]
    assert 0 < len(stories) < len(message.items)
    more = texts[len(stories)]
    assert more == f"<{ARCHIVE}|More in today's digest>: {len(message.items) - len(stories)} more stories"


def test_slack_cuts_a_long_title_on_a_word_boundary_with_an_ellipsis():
    title = " ".join(f"word{i}" for i in range(200))
    _, payload = send_to_slack(digest([DigestItem(title=title, source="S", takeaway="T", url=ARCHIVE)]))
    label = re.match(r"\*<[^|]+\|([^>]+)>\*", payload["blocks"][1]["text"]["text"]).group(1)
    assert label.endswith("…") and len(label) <= 250
    kept = label.removesuffix("…")
    assert title.startswith(kept) and title[len(kept)] == " "


def test_slack_links_a_story_only_when_its_url_fits_and_escapes_what_would_end_the_link():
    _, payload = send_to_slack(digest(many_hostile_items("ascii ", count=3)))
    too_long, piped = payload["blocks"][2]["text"]["text"], payload["blocks"][3]["text"]["text"]
    assert too_long.startswith("*xxx") and "yyyy" not in too_long  # the title, unlinked
    assert piped.startswith("*<https://news.example.org/a%7Cb%3Ec%20d&amp;e/|Pipes>*")


def test_the_slack_fallback_text_is_escaped_like_the_blocks():
    item = DigestItem(title="<!channel> Council <b>votes</b> & more", source="S", takeaway="T", url=ARCHIVE)
    _, payload = send_to_slack(digest([item]))
    assert payload["text"] == (
        "Newsroom &lt;!channel&gt; &amp; co daily digest — Tuesday 24 November 2026: "
        "&lt;!channel&gt; Council &lt;b&gt;votes&lt;/b&gt; &amp; more"
    )


# --- LINE ---------------------------------------------------------------------------------


@pytest.mark.parametrize("alphabet", ALPHABETS.values(), ids=ALPHABETS.keys())
def test_a_line_digest_of_many_long_hostile_stories_keeps_every_flex_limit(settings, alphabet):
    message = digest(many_hostile_items(alphabet))
    raw, body = send_to_line(settings, message)  # the fake refuses what LINE refuses

    # The whole push body, bubble included, is under the bubble limit on the wire ...
    assert len(raw) <= 30_000
    (flex,) = body["messages"]
    bubble = flex["contents"]
    # ... and so is the bubble however an encoder writes it.
    assert len(json.dumps(bubble, ensure_ascii=True, separators=(",", ":"))) <= 30_000
    assert 0 < utf16_units(flex["altText"]) <= 1500
    components = bubble["body"]["contents"] + bubble["footer"]["contents"]
    assert all(c["text"] for c in components if c["type"] == "text")
    assert not any(unicodedata.category(ch) == "Cc" for text in strings(body) for ch in text)
    uris = [c["action"]["uri"] for c in components if "action" in c]
    assert all(0 < len(uri) <= 1000 for uri in uris)
    assert all(0 < len(c["action"]["label"]) <= 40 for c in components if c["type"] == "button")

    titles = [
        c for c in components if c.get("weight") == "bold" and c.get("action", {}).get("label") == "Read"
    ]
    (more,) = [c for c in components if c.get("text", "").startswith("More in today's digest")]
    assert more["action"]["uri"] == ARCHIVE
    shown = len([c for c in components if c["type"] == "separator"])
    assert 0 < shown < len(message.items) and len(titles) <= shown
    assert more["text"] == f"More in today's digest: {len(message.items) - shown} more stories"


def test_line_leaves_out_a_link_it_cannot_take_and_keeps_the_story():
    body = LineChannel.payload(digest(many_hostile_items("ascii ", count=3)), to=LINE_USER)
    texts = body["messages"][0]["contents"]["body"]["contents"]
    (long_link,) = [c for c in texts if c.get("text", "").startswith("xxxx")]
    assert "action" not in long_link


@pytest.mark.parametrize(
    "error",
    [
        {
            "message": "A message (messages[0]) in the request body is invalid",
            "details": [{"message": "Length must be between 0 and 1500", "property": "messages[0].altText"}],
        },
        {"message": "The request body has 1 error(s)", "details": [{"property": "messages[0].contents"}]},
        {"message": "Bad request"},
        "not json at all",
    ],
    ids=["altText", "contents", "no-details", "not-an-object"],
)
def test_a_line_400_about_the_message_is_our_error_not_the_subscribers(settings, error):
    message = digest(many_hostile_items("ascii ", count=2))
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.fail_next = [(400, error)]
        with pytest.raises(ChannelError) as info:
            LineChannel().send(
                message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY)
            )
    assert info.value.kind == FailureKind.ERROR


def test_a_line_400_naming_the_recipient_in_its_details_is_the_subscribers(settings):
    error = {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "invalid", "property": "to"}],
    }
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.fail_next = [(400, error)]
        with pytest.raises(ChannelError) as info:
            LineChannel().send(
                message=digest(many_hostile_items("a ", count=1)),
                recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY),
            )
    assert info.value.kind == FailureKind.HARD


def test_building_either_payload_from_megabyte_fields_takes_well_under_a_second():
    huge = hostile(MARKUP + ALPHABETS["emoji"], 1_000_000, 0)
    message = digest([DigestItem(title=huge, source=huge, takeaway=huge, url=ARCHIVE)] * 20)
    started = time.perf_counter()
    SlackChannel.payload(message)
    LineChannel.payload(message, to=LINE_USER)
    assert time.perf_counter() - started < 0.5  # about 0.02 s: each field is read only up to its limit


# --- Through the delivery service ---------------------------------------------------------


@pytest.fixture
def crowded_day(db, settings):
    """More stories than a chat message holds: long titles of markup and wide characters."""
    settings.NEWSLETTER_MAX_ITEMS = 40
    for n in range(40):
        publish(title=f"<!channel> Story {n} & <b>" + ("漢字かなカナ " * 80)[:470])


def test_a_crowded_day_reaches_slack_and_line_subscribers_with_a_link_to_the_rest(settings, crowded_day):
    with FakeSlack() as slack, FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        subscribers = [
            make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url()),
            make_subscriber(channel="line", line_user_id=LINE_USER),
        ]
        report = services.digest_deliver_chunk(
            subscriber_ids=[s.pk for s in subscribers], day=timezone.now().date()
        )
    assert report.sent == {"slack": 1, "line": 1}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert "More in today" in slack.requests[0]["body"].decode()
    assert "More in today" in line.requests[0]["body"].decode()


def test_a_line_payload_refused_by_line_fails_the_delivery_without_pausing_or_retrying(
    settings, todays_story, caplog
):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.fail_next = [(400, {"message": "A message (messages[0]) in the request body is invalid"})]
        subscriber = make_subscriber(channel="line", line_user_id=LINE_USER)
        with caplog.at_level(logging.WARNING, logger="newsletter.services"):
            report = services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
    assert report.failed == {"line": 1}
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_retry_at) == ("failed", 1, None)
    assert delivery.error.startswith("error: LINE 400")
    subscriber.refresh_from_db()
    assert subscriber.status == "confirmed"
    assert "messages[0]" in caplog.text
