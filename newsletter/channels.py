"""Delivery channels: email, Slack incoming webhooks and LINE push, behind one interface.

Each channel renders a `DigestMessage` for one recipient and hands it off. It knows nothing
about the database: failures come back as `ChannelError` with a `kind` the service acts on.
"""

from __future__ import annotations

import dataclasses
import enum
import smtplib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.utils.html import escape

from newsroom.http import BlockedURL, make_guarded_client


@dataclass(frozen=True)
class DigestItem:
    title: str
    source: str
    takeaway: str
    url: str


@dataclass(frozen=True)
class DigestMessage:
    day: date
    items: list[DigestItem]
    archive_url: str
    preferences_url: str = ""
    unsubscribe_url: str = ""
    site_name: str = field(default_factory=lambda: settings.SITE_NAME)

    @property
    def subject(self) -> str:
        return f"{self.site_name} daily digest — {self.day:%A %-d %B %Y}"


@dataclass(frozen=True)
class Recipient:
    email: str = ""
    slack_webhook_url: str = ""
    line_user_id: str = ""
    # Same key on every attempt of one delivery, so a channel that deduplicates can do so.
    retry_key: str = ""


class FailureKind(enum.StrEnum):
    # The address or webhook is gone (bounce, revoked webhook, blocked LINE user): pause.
    HARD = "hard"
    # Nothing was delivered and trying later may work (connection refused, 429, 5xx).
    TEMPORARY = "temporary"
    # The request may or may not have arrived (timeout after sending): only a channel with
    # idempotency keys may retry it; others wait for an operator.
    AMBIGUOUS = "ambiguous"
    # Our side is wrong (bad payload, not configured): fail, keep the subscription.
    ERROR = "error"


class ChannelError(Exception):
    def __init__(self, message: str, *, kind: FailureKind) -> None:
        super().__init__(message)
        self.kind = kind


class Channel(Protocol):
    name: ClassVar[str]
    # True when re-sending the same delivery can never produce a second message.
    idempotent: ClassVar[bool]

    def send(self, *, message: DigestMessage, recipient: Recipient) -> None: ...

    def close(self) -> None: ...


def _http_client() -> httpx.Client:
    """Every outbound HTTP request of the newsletter goes through here.

    It is the fetcher's guarded client: a subscriber-supplied webhook URL that resolves to a
    private, loopback or link-local address is refused on the address actually connected to.
    """
    return make_guarded_client(timeout=settings.NEWSLETTER_HTTP_TIMEOUT_SECONDS, follow_redirects=False)


def _http_failure(exc: httpx.HTTPError | BlockedURL) -> ChannelError:
    if isinstance(exc, BlockedURL):
        # Nothing was sent; the target is not one we will ever reach: pause the subscription.
        return ChannelError(f"refused by the address guard: {exc}", kind=FailureKind.HARD)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ChannelError(f"could not connect: {exc!r}", kind=FailureKind.TEMPORARY)
    # The request went out; whether it was acted on is unknown.
    return ChannelError(f"no reply: {exc!r}", kind=FailureKind.AMBIGUOUS)


class EmailChannel:
    """Multipart HTML + text through Django's email backend, one connection per batch."""

    name = "email"
    idempotent = False

    # Stand-ins for the per-subscriber links while rendering: subscribers who follow the same
    # topics get the same digest, so a batch renders each distinct body once, not per person.
    _PREFERENCES = "https://newsletter.invalid/preferences-placeholder"
    _UNSUBSCRIBE = "https://newsletter.invalid/unsubscribe-placeholder"

    def __init__(self) -> None:
        # mailers.default: Django 6.1's replacement for get_connection(), either settings style.
        self.connection = mailers.default
        self._opened = False
        self._rendered: dict[tuple, tuple[str, str]] = {}

    def render(self, message: DigestMessage) -> tuple[str, str]:
        """(text, html) for `message`, from templates rendered once per distinct digest."""
        key = (message.day, tuple(message.items), message.archive_url, bool(message.preferences_url))
        if key not in self._rendered:
            generic = dataclasses.replace(
                message,
                preferences_url=message.preferences_url and self._PREFERENCES,
                unsubscribe_url=message.unsubscribe_url and self._UNSUBSCRIBE,
            )
            context = {"digest": generic}
            self._rendered[key] = (
                render_to_string("emails/digest.txt", context),
                render_to_string("emails/digest.html", context),
            )
        text, html = self._rendered[key]
        if message.preferences_url:
            links = {self._PREFERENCES: message.preferences_url, self._UNSUBSCRIBE: message.unsubscribe_url}
            for placeholder, url in links.items():
                text = text.replace(placeholder, url)
                html = html.replace(placeholder, escape(url))
        return text, html

    def build(self, *, message: DigestMessage, recipient: Recipient) -> EmailMultiAlternatives:
        text, html = self.render(message)
        headers = {}
        if message.unsubscribe_url:
            # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to this URL.
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=text,
            to=[recipient.email],
            headers=headers,
            connection=self.connection,
        )
        email.attach_alternative(html, "text/html")
        return email

    def send(self, *, message: DigestMessage, recipient: Recipient) -> None:
        email = self.build(message=message, recipient=recipient)
        try:
            if not self._opened:
                self.connection.open()
                self._opened = True
            self.connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            kind = FailureKind.HARD if any(c >= 500 for c in codes) else FailureKind.TEMPORARY
            raise ChannelError(f"recipient refused: {exc.recipients}", kind=kind) from exc
        except smtplib.SMTPServerDisconnected as exc:
            # The server may have taken the message before it hung up.
            self._reset()
            raise ChannelError(f"server disconnected: {exc}", kind=FailureKind.AMBIGUOUS) from exc
        except smtplib.SMTPResponseException as exc:
            kind = FailureKind.TEMPORARY if 400 <= exc.smtp_code < 500 else FailureKind.ERROR
            raise ChannelError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", kind=kind) from exc
        except OSError as exc:  # refused, unreachable, TLS: nothing was sent
            self._reset()
            raise ChannelError(f"SMTP connection failed: {exc!r}", kind=FailureKind.TEMPORARY) from exc

    def _reset(self) -> None:
        try:
            self.connection.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass
        self._opened = False

    def close(self) -> None:
        if self._opened:
            self._reset()


class SlackChannel:
    """A Slack incoming webhook given by the subscriber; the message is Block Kit.

    Slack has no idempotency key, so a timeout after the POST is AMBIGUOUS and not retried.
    """

    name = "slack"
    idempotent = False
    HARD_STATUSES = frozenset({403, 404, 410})  # invalid_token, no_service, channel_is_archived

    def __init__(self) -> None:
        self.client = _http_client()

    @staticmethod
    def payload(message: DigestMessage) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
        ]
        for item in message.items:
            text = (
                f"*<{item.url}|{_mrkdwn(item.title)}>*\n_{_mrkdwn(item.source)}_ — {_mrkdwn(item.takeaway)}"
            )
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        blocks.append({"type": "divider"})
        links = [f"<{message.archive_url}|Read on the web>"]
        if message.preferences_url:
            links.append(f"<{message.preferences_url}|Preferences>")
        if message.unsubscribe_url:
            links.append(f"<{message.unsubscribe_url}|Unsubscribe>")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
        fallback = f"{message.subject}: " + "; ".join(item.title for item in message.items)
        return {"text": fallback[:3000], "blocks": blocks, "unfurl_links": False}

    def send(self, *, message: DigestMessage, recipient: Recipient) -> None:
        try:
            response = self.client.post(recipient.slack_webhook_url, json=self.payload(message))
        except (httpx.HTTPError, BlockedURL) as exc:
            raise _http_failure(exc) from exc
        if response.status_code == 200:
            return
        detail = f"Slack {response.status_code}: {response.text[:200]}"
        if response.status_code in self.HARD_STATUSES:
            raise ChannelError(detail, kind=FailureKind.HARD)
        if response.status_code == 429 or response.status_code >= 500:
            raise ChannelError(detail, kind=FailureKind.TEMPORARY)
        raise ChannelError(detail, kind=FailureKind.ERROR)

    def close(self) -> None:
        self.client.close()


class LineChannel:
    """LINE Messaging API push (`POST /v2/bot/message/push`) with a Flex message.

    Every attempt of one delivery carries the same X-Line-Retry-Key; LINE executes a key at
    most once and answers 409 to repeats, so re-sending after a timeout or crash is safe.
    """

    name = "line"
    idempotent = True
    HARD_STATUSES = frozenset({400, 403})  # unknown/blocked user id, not a friend of the bot

    def __init__(self) -> None:
        self.client = _http_client()

    @staticmethod
    def payload(message: DigestMessage, *, to: str) -> dict[str, Any]:
        contents: list[dict[str, Any]] = [
            {"type": "text", "text": message.subject, "weight": "bold", "size": "lg", "wrap": True},
        ]
        for item in message.items:
            contents.append({"type": "separator", "margin": "md"})
            contents.append(
                {
                    "type": "text",
                    "text": item.title[:300],
                    "weight": "bold",
                    "wrap": True,
                    "margin": "md",
                    "action": {"type": "uri", "label": "Read", "uri": item.url},
                }
            )
            contents.append({"type": "text", "text": item.source[:100], "size": "xs", "color": "#666666"})
            contents.append({"type": "text", "text": item.takeaway[:500], "size": "sm", "wrap": True})
        footer = [{"type": "button", "action": {"type": "uri", "label": "Web", "uri": message.archive_url}}]
        if message.preferences_url:
            footer.append(
                {
                    "type": "button",
                    "action": {"type": "uri", "label": "Settings", "uri": message.preferences_url},
                }
            )
        bubble = {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": contents},
            "footer": {"type": "box", "layout": "horizontal", "contents": footer},
        }
        alt = f"{message.subject}: " + "; ".join(item.title for item in message.items)
        return {"to": to, "messages": [{"type": "flex", "altText": alt[:400], "contents": bubble}]}

    def send(self, *, message: DigestMessage, recipient: Recipient) -> None:
        token = settings.LINE_CHANNEL_ACCESS_TOKEN
        if not token:
            raise ChannelError("LINE_CHANNEL_ACCESS_TOKEN is not set", kind=FailureKind.ERROR)
        url = settings.LINE_API_BASE_URL.rstrip("/") + "/v2/bot/message/push"
        headers = {"Authorization": f"Bearer {token}", "X-Line-Retry-Key": recipient.retry_key}
        try:
            response = self.client.post(
                url, json=self.payload(message, to=recipient.line_user_id), headers=headers
            )
        except (httpx.HTTPError, BlockedURL) as exc:
            failure = _http_failure(exc)
            if not isinstance(exc, BlockedURL):
                # The retry key makes an unanswered request safe to repeat.
                failure.kind = FailureKind.TEMPORARY
            raise failure from exc
        # 409: this retry key was already accepted, i.e. an earlier attempt got through.
        if response.status_code in (200, 409):
            return
        detail = f"LINE {response.status_code}: {response.text[:200]}"
        if response.status_code in self.HARD_STATUSES:
            raise ChannelError(detail, kind=FailureKind.HARD)
        # 401 is our token, 429 our quota, 5xx theirs: none of it is the subscriber's fault.
        raise ChannelError(detail, kind=FailureKind.TEMPORARY)

    def close(self) -> None:
        self.client.close()


CHANNELS: dict[str, type[EmailChannel | SlackChannel | LineChannel]] = {
    "email": EmailChannel,
    "slack": SlackChannel,
    "line": LineChannel,
}


class ChannelPool:
    """Opens each channel once per batch (one SMTP connection, one HTTP pool) and closes them."""

    def __init__(self) -> None:
        self._open: dict[str, Channel] = {}

    def get(self, name: str) -> Channel:
        if name not in self._open:
            self._open[name] = CHANNELS[name]()
        return self._open[name]

    def __enter__(self) -> ChannelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for channel in self._open.values():
            channel.close()


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
