"""Each channel against a real server on loopback: Slack and LINE fakes over real HTTP
(httpx), email through Django's SMTP backend to an aiosmtpd server, parsed back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket

import pytest

from newsletter.channels import (
    ChannelError,
    DigestEmail,
    DigestItem,
    DigestMessage,
    EmailChannel,
    FailureKind,
    LineChannel,
    Recipient,
    SlackChannel,
)
from tests.fakes.line_server import FakeLine
from tests.fakes.slack_server import FakeSlack
from tests.newsletter.conftest import loopback_mailer

LINE_USER = "U" + "0123456789abcdef" * 2
RETRY_KEY = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture
def message() -> DigestMessage:
    return DigestMessage(
        day=dt.date(2026, 11, 24),
        items=[
            DigestItem(
                title="Council approves <light-rail> & more",
                source="City Paper",
                takeaway="The council approved a 2.4 billion dollar light-rail line.",
                url="https://news.example.org/a/council-approves/",
            ),
            DigestItem(
                title="Glacier melt accelerates",
                source="Science Daily",
                takeaway="Alpine glaciers lost 4% of their volume this year.",
                url="https://news.example.org/a/glacier-melt/",
            ),
        ],
        archive_url="https://news.example.org/digest/2026-11-24/",
        preferences_url="https://news.example.org/newsletter/preferences/tok/",
        unsubscribe_url="https://news.example.org/newsletter/unsubscribe/tok/",
        site_name="Newsroom",
    )


# --- Slack ------------------------------------------------------------------------------


def test_slack_receives_a_block_kit_message_with_every_story_and_the_manage_links(message):
    with FakeSlack() as slack:
        channel = SlackChannel()
        channel.send(message=message, recipient=Recipient(slack_webhook_url=slack.webhook_url()))
        channel.close()
    (request,) = slack.requests
    assert request["path"] == "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = request["json"]
    assert "Council approves" in payload["text"]
    types = [block["type"] for block in payload["blocks"]]
    assert types == ["header", "section", "section", "divider", "context"]
    first = payload["blocks"][1]["text"]
    assert first["type"] == "mrkdwn"
    # Titles are escaped so they cannot break out of the link markup.
    assert first["text"].startswith(
        "*<https://news.example.org/a/council-approves/|Council approves &lt;light-rail&gt; &amp; more>*"
    )
    assert "_City Paper_" in first["text"]
    context = payload["blocks"][-1]["elements"][0]["text"]
    assert "|Unsubscribe>" in context and message.preferences_url in context


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, "no_service", FailureKind.HARD),
        (410, "channel_is_archived", FailureKind.HARD),
        (403, "invalid_token", FailureKind.HARD),
        (500, "rollup_error", FailureKind.TEMPORARY),
        (429, "rate_limited", FailureKind.TEMPORARY),
        (400, "invalid_payload", FailureKind.ERROR),
    ],
)
def test_slack_answers_are_classified(message, status, body, kind):
    with FakeSlack() as slack:
        url = slack.webhook_url()
        slack.statuses[url.removeprefix(slack.base_url)] = (status, body)
        with pytest.raises(ChannelError) as info:
            SlackChannel().send(message=message, recipient=Recipient(slack_webhook_url=url))
    assert info.value.kind == kind
    assert body in str(info.value)


def test_an_unreachable_webhook_is_a_temporary_failure(message):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChannelError) as info:
        SlackChannel().send(
            message=message,
            recipient=Recipient(slack_webhook_url=f"http://127.0.0.1:{port}/services/T1/B1/x"),
        )
    assert info.value.kind == FailureKind.TEMPORARY


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "10.0.0.7", "169.254.169.254"]
)
def test_a_webhook_on_a_private_address_is_refused_by_the_fetchers_guard(settings, message, host):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    with FakeSlack() as slack:
        port = slack.server.server_address[1]
        with pytest.raises(ChannelError) as info:
            SlackChannel().send(
                message=message,
                recipient=Recipient(slack_webhook_url=f"http://{host}:{port}/services/T1/B1/x"),
            )
    assert slack.requests == []
    assert info.value.kind == FailureKind.HARD
    assert "guard" in str(info.value)


# --- LINE -------------------------------------------------------------------------------


def test_line_receives_a_flex_push_with_the_token_and_retry_key(settings, message):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        LineChannel().send(message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY))
    (request,) = line.requests
    assert request["path"] == "/v2/bot/message/push"
    assert request["headers"]["Authorization"] == "Bearer test-channel-token"
    assert request["headers"]["X-Line-Retry-Key"] == RETRY_KEY
    body = request["json"]
    assert body["to"] == LINE_USER
    (flex,) = body["messages"]
    assert flex["type"] == "flex"
    assert len(flex["altText"]) <= 400 and "Glacier melt" in flex["altText"]
    texts = [c for c in flex["contents"]["body"]["contents"] if c["type"] == "text"]
    linked = [c for c in texts if "action" in c]
    assert [c["action"]["uri"] for c in linked] == [item.url for item in message.items]
    assert message.items[1].takeaway in [c["text"] for c in texts]
    buttons = flex["contents"]["footer"]["contents"]
    assert [b["action"]["uri"] for b in buttons] == [message.archive_url, message.preferences_url]


def test_a_repeated_line_push_with_the_same_key_counts_as_sent_and_arrives_once(settings, message):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        recipient = Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY)
        LineChannel().send(message=message, recipient=recipient)
        LineChannel().send(message=message, recipient=recipient)  # answered 409: no error
    assert len(line.requests) == 2
    assert len(line.accepted) == 1


@pytest.mark.parametrize(("status", "kind"), [(400, FailureKind.HARD), (403, FailureKind.HARD)])
def test_line_rejecting_the_user_is_a_hard_failure(settings, message, status, kind):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.user_status[LINE_USER] = status
        with pytest.raises(ChannelError) as info:
            LineChannel().send(
                message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY)
            )
    assert info.value.kind == kind


def test_a_wrong_line_token_is_our_problem_not_the_subscribers(settings, message):
    with FakeLine(token="the-real-token") as line:
        settings.LINE_API_BASE_URL = line.base_url
        with pytest.raises(ChannelError) as info:
            LineChannel().send(
                message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY)
            )
    assert info.value.kind == FailureKind.TEMPORARY


def test_a_line_timeout_is_retryable_because_the_retry_key_makes_repeats_harmless(settings, message):
    settings.NEWSLETTER_HTTP_TIMEOUT_SECONDS = 0.3
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.slow_seconds = 1.0
        with pytest.raises(ChannelError) as info:
            LineChannel().send(
                message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY)
            )
        assert info.value.kind == FailureKind.TEMPORARY
        line.slow_seconds = 0
        LineChannel().send(message=message, recipient=Recipient(line_user_id=LINE_USER, retry_key=RETRY_KEY))
    assert len(line.accepted) == 1


# --- Email over real SMTP -----------------------------------------------------------------


def test_the_email_arrives_over_smtp_as_multipart_html_and_text_with_one_click_unsubscribe(
    smtp_server, message
):
    channel = EmailChannel()
    channel.send(message=message, recipient=Recipient(email="reader@example.com"))
    channel.close()

    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["reader@example.com"]
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert parsed["To"] == "reader@example.com"
    assert parsed["Subject"] == "Newsroom daily digest — Tuesday 24 November 2026"
    assert parsed["List-Unsubscribe"] == f"<{message.unsubscribe_url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None

    html = html_part.get_content()
    links = re.findall(r'href="([^"]+)"', html)
    assert links == [item.url for item in message.items] + [
        message.archive_url,
        message.preferences_url,
        message.unsubscribe_url,
    ]
    # Escaped, inline-styled, and nothing that phones home.
    assert "Council approves &lt;light-rail&gt; &amp; more" in html
    assert "<img" not in html.lower() and "<style" not in html.lower()
    assert 'style="' in html


def _raw_header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def _unfolded_headers(raw: bytes) -> list[bytes]:
    """The header fields of a raw message, each unfolded onto one line (RFC 5322 2.2.3)."""
    return _raw_header_block(raw).replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t").split(b"\r\n")


# Lengths around the 78-character fold point up to the longest that fits one 998-octet line.
@pytest.mark.parametrize("length", [50, 58, 59, 120, 400, 978])
def test_the_unsubscribe_headers_go_on_the_wire_as_plain_ascii_with_the_url_unbroken(
    smtp_server, message, length
):
    prefix = "https://news.example.org/newsletter/unsubscribe/"
    # A signed token's alphabet: URL-safe base64 and colons.
    token = ("eyJzIjo0MiwiZSI6IjBhYmMifQ:1vKx2Q:" * 40)[: length - len(prefix) - 1]
    url = f"{prefix}{token}/"
    assert len(url) == length
    message = dataclasses.replace(message, unsubscribe_url=url)
    channel = EmailChannel()
    channel.send(message=message, recipient=Recipient(email="reader@example.com"))
    channel.close()

    raw = smtp_server.envelopes[0].content
    lines = _raw_header_block(raw).split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    # The URL sits whole on one physical line, never split by folding, on the field's first line.
    assert f"List-Unsubscribe: <{url}>".encode() in lines
    fields = _unfolded_headers(raw)
    list_fields = [field for field in fields if field.lower().startswith(b"list-")]
    assert len(list_fields) == 2
    assert not any(b"=?" in field for field in list_fields)  # no RFC 2047 encoded-word
    assert f"List-Unsubscribe: <{url}>".encode() in fields
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in fields
    # A parser that does no RFC 2047 decoding sees the URL intact.
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert "".join(legacy["List-Unsubscribe"].split()) == f"<{url}>"
    assert legacy["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_list_header_of_several_urls_folds_only_between_them():
    # Each longer than a 78-character line: the email package would encode them to wrap them.
    urls = [f"<https://news.example.org/newsletter/unsubscribe/{'x' * 60}{n}/>" for n in range(4)]
    value = ", ".join([*urls, "<mailto:unsubscribe@example.org>"])
    mail = DigestEmail(subject="s", body="b", to=["r@example.com"], headers={"List-Unsubscribe": value})
    lines = _raw_header_block(mail.message(policy=email.policy.SMTP).as_bytes()).split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"List-Unsubscribe:"))
    field = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(b" "):
            break
        field.append(line)
    assert len(field) == 5 and all(len(line) <= 998 for line in field)
    assert not any(b"=?" in line for line in field)
    # Every URL whole on one line: folds fall only on the spaces between items.
    for url in urls:
        assert sum(url.encode() in line for line in field) == 1
    assert b" ".join(line.strip() for line in field) == f"List-Unsubscribe: {value}".encode()


def test_an_unsubscribe_url_too_long_for_any_header_line_fails_the_delivery_as_our_error(
    smtp_server, message
):
    url = "https://news.example.org/newsletter/unsubscribe/" + "a" * 1000 + "/"
    channel = EmailChannel()
    with pytest.raises(ChannelError) as info:
        channel.send(
            message=dataclasses.replace(message, unsubscribe_url=url),
            recipient=Recipient(email="r@example.com"),
        )
    channel.close()
    assert info.value.kind == FailureKind.ERROR
    assert smtp_server.envelopes == []


def test_the_plain_text_part_reads_as_a_numbered_list_with_bare_links(smtp_server, message):
    channel = EmailChannel()
    channel.send(message=message, recipient=Recipient(email="reader@example.com"))
    channel.close()
    parsed = email.message_from_bytes(smtp_server.envelopes[0].content, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "<" not in text.replace("<light-rail>", "")  # no HTML, and titles are not escaped
    assert "1. Council approves <light-rail> & more\n   City Paper\n" in text
    assert "   https://news.example.org/a/glacier-melt/\n" in text
    assert f"Unsubscribe: {message.unsubscribe_url}" in text


def test_a_refused_recipient_is_a_hard_failure(smtp_server, message):
    with pytest.raises(ChannelError) as info:
        EmailChannel().send(message=message, recipient=Recipient(email="bounce@example.com"))
    assert info.value.kind == FailureKind.HARD
    assert smtp_server.envelopes == []


def test_an_unreachable_smtp_server_is_a_temporary_failure(settings, message):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.MAILERS = {"default": loopback_mailer(port)}
    with pytest.raises(ChannelError) as info:
        EmailChannel().send(message=message, recipient=Recipient(email="reader@example.com"))
    assert info.value.kind == FailureKind.TEMPORARY


@pytest.mark.django_db
def test_a_chunk_sends_all_its_claim_batches_over_one_smtp_connection(smtp_server, settings, todays_story):
    from django.utils import timezone

    from newsletter import services
    from tests.factories import make_subscriber

    settings.NEWSLETTER_CLAIM_BATCH_SIZE = 2
    ids = [make_subscriber().pk for _ in range(5)]
    services.digest_deliver_chunk(subscriber_ids=ids, day=timezone.now().date())
    assert len(smtp_server.envelopes) == 5
    assert len({id(session) for session in smtp_server.sessions}) == 1
