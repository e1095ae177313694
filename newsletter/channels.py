"""Delivery channels: email, Slack incoming webhooks and LINE push, behind one interface.

Each channel renders a `DigestMessage` for one recipient and hands it off. It knows nothing
about the database: failures come back as `ChannelError` with a `kind` the service acts on.
"""

from __future__ import annotations

import dataclasses
import email.message
import email.policy
import enum
import json
import smtplib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email.headerregistry import HeaderRegistry
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.utils.html import escape

from newsroom.http import BlockedURL, make_guarded_client


@dataclass(frozen=True)
class DigestItem:
    """One story in a digest, shown by one of its articles."""

    title: str
    # The source of the article shown.
    source: str
    takeaway: str
    url: str
    # Every source that covered the story, that one first; empty when only it did.
    sources: tuple[str, ...] = ()
    # What the story's latest update brought, in one line (Summary.update_line).
    update_line: str = ""
    # Sent to this reader before and updated since: the item leads with its update line.
    updated: bool = False

    @property
    def byline(self) -> str:
        """Who reported it: "City Paper", or "3 sources: City Paper, Wire, Daily". The count
        comes first, so a byline cut to fit a chat message keeps it."""
        names = self.sources or ((self.source,) if self.source else ())
        if len(names) > 1:
            return f"{len(names)} sources: {', '.join(names)}"
        return names[0] if names else ""

    @property
    def lead(self) -> str:
        """ "Updated: <update line>" for a reader who had the story before; else nothing."""
        if not (self.updated and self.update_line.strip()):
            return ""
        line = self.update_line.strip()
        return line if line.lower().startswith("updated:") else f"Updated: {line}"


@dataclass(frozen=True)
class DigestMessage:
    day: date
    items: list[DigestItem]
    archive_url: str
    preferences_url: str = ""
    unsubscribe_url: str = ""
    # Stories for this reader beyond NEWSLETTER_MAX_ITEMS, left for the web archive.
    more: int = 0
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

    def send(self, *, message: DigestMessage, recipient: Recipient) -> int:
        """Hand `message` over; returns how many of its items, from the first, the message
        shows (a chat message may leave the last ones to its "more" link)."""
        ...

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


# RFC 5322 2.1.1: a header line MUST NOT exceed 998 characters (plus CRLF).
HEADER_LINE_MAX = 998


class ListHeader:
    """An RFC 2369 list header (List-Unsubscribe and its kin; RFC 8058's List-Unsubscribe-Post).

    Its value is angle-bracketed URLs separated by commas, and mail clients read it without
    RFC 2047 decoding. The email package treats unknown headers as unstructured text and, once a
    line passes 78 characters, wraps a long word by turning it into encoded-words
    (`=?utf-8?q?=3Chttps…?=`), which hides the URL from clients and breaks RFC 8058 one-click
    unsubscribe. This header class folds only at the whitespace between items, never inside one,
    and never encodes: the first item stays on the field-name line while that line fits 998
    characters, later items move to a continuation line when the line would pass the policy's
    `max_line_length`. A value that is not ASCII, or an item longer than a line can hold, is
    refused (ValueError): it cannot be written correctly.
    """

    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        kwds["decoded"] = value
        kwds["parse_tree"] = None

    def fold(self, *, policy: email.policy.Policy) -> str:
        value = str(self)
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"{self.name} must be printable ASCII: {value!r}")
        soft_max = policy.max_line_length or HEADER_LINE_MAX
        lines = [f"{self.name}:"]
        for item in value.split():
            first = len(lines) == 1 and lines[0] == f"{self.name}:"
            joined = len(lines[-1]) + 1 + len(item)
            if joined <= soft_max or (first and joined <= HEADER_LINE_MAX):
                lines[-1] += " " + item
            else:
                lines.append(" " + item)
            if len(lines[-1]) > HEADER_LINE_MAX:
                raise ValueError(f"{self.name} item of {len(item)} characters cannot fit a header line")
        return policy.linesep.join(lines) + policy.linesep


# The email package's default header classes, plus ListHeader for the RFC 2369 fields.
_HEADER_FACTORY = HeaderRegistry()
for _name in (
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-help",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
    "list-id",
):
    _HEADER_FACTORY.map_to_type(_name, ListHeader)


class DigestEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose List-* headers are written by ListHeader, whatever policy
    the email backend asks for (the SMTP backend uses email.policy.SMTP)."""

    def message(self, *, policy: email.policy.Policy = email.policy.default) -> email.message.EmailMessage:
        if isinstance(policy, email.policy.EmailPolicy):
            policy = policy.clone(header_factory=_HEADER_FACTORY)
        return super().message(policy=policy)


class EmailChannel:
    """Multipart HTML + text through Django's email backend, one connection per batch."""

    name = "email"
    idempotent = False

    # Stand-ins for the per-subscriber links while rendering: subscribers who follow the same
    # topics get the same digest, so a batch renders each distinct body once, not per person.
    _PREFERENCES = "https://newsletter.invalid/preferences-placeholder"
    _UNSUBSCRIBE = "https://newsletter.invalid/unsubscribe-placeholder"

    def __init__(self) -> None:
        # MAILERS["default"], built from EMAIL_URL (Django 6.1's replacement for get_connection()).
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

    def build(self, *, message: DigestMessage, recipient: Recipient) -> DigestEmail:
        text, html = self.render(message)
        headers = {}
        if message.unsubscribe_url:
            # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to this URL.
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail = DigestEmail(
            subject=message.subject,
            body=text,
            to=[recipient.email],
            headers=headers,
            connection=self.connection,
        )
        mail.attach_alternative(html, "text/html")
        return mail

    def send(self, *, message: DigestMessage, recipient: Recipient) -> int:
        mail = self.build(message=message, recipient=recipient)
        try:
            if not self._opened:
                self.connection.open()
                self._opened = True
            self.connection.send_messages([mail])
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
        except ValueError as exc:  # the message could not be written (see ListHeader): ours
            raise ChannelError(f"could not write the message: {exc}", kind=FailureKind.ERROR) from exc
        return len(message.items)

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

    # Block Kit: 50 blocks a message, 150 characters a header, 3000 a section or context text.
    MAX_BLOCKS = 50
    HEADER_MAX = 150
    # Slack also refuses blocks holding more than about 12,000 characters in all
    # (msg_blocks_too_long, undocumented): stories stop well before that.
    BLOCKS_TEXT_BUDGET = 10_000
    # Per story (escaped characters), so that one long story cannot crowd out the rest and a
    # section stays under 3000 whatever it holds: 800 + 250 + 100 + 1000 + 350 + markup < 3000. Three
    # links of at most 800 keep the context line under 3000 too.
    URL_MAX, TITLE_MAX, SOURCE_MAX, TAKEAWAY_MAX, LEAD_MAX = 800, 250, 100, 1000, 350
    FALLBACK_MAX = 3000

    @classmethod
    def payload(cls, message: DigestMessage) -> dict[str, Any]:
        return cls.compose(message)[0]

    @classmethod
    def compose(cls, message: DigestMessage) -> tuple[dict[str, Any], int]:
        """The Block Kit message and how many stories it shows, within Slack's limits by
        construction: every text is cut to its limit and escaped; stories that would pass the
        block count or the text budget are left for a "More in today's digest" link to the
        web archive."""
        subject = _fit(message.subject, cls.HEADER_MAX)
        links = [_slack_link(message.archive_url, "Read on the web", cls.URL_MAX)]
        if message.preferences_url:
            links.append(_slack_link(message.preferences_url, "Preferences", cls.URL_MAX))
        if message.unsubscribe_url:
            links.append(_slack_link(message.unsubscribe_url, "Unsubscribe", cls.URL_MAX))
        context = " · ".join(links)
        # Header, the "more" section, divider and context are the blocks around the stories;
        # the "more" line's room is kept whether or not it is needed.
        room = cls.MAX_BLOCKS - 4
        used = _utf16_units(subject) + _utf16_units(context)
        used += _utf16_units(cls._more_text(message, len(message.items) + message.more))
        sections: list[dict[str, Any]] = []
        shown: list[DigestItem] = []
        for item in message.items:
            text = cls._item_text(item)
            if len(shown) == room or used + _utf16_units(text) > cls.BLOCKS_TEXT_BUDGET:
                break
            used += _utf16_units(text)
            sections.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            shown.append(item)
        if dropped := len(message.items) - len(shown) + message.more:
            sections.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": cls._more_text(message, dropped)}}
            )
        # The fallback text is mrkdwn too (notifications, clients without blocks): escaped alike.
        fallback = f"{message.subject}: " + "; ".join(_fit(item.title, cls.TITLE_MAX) for item in shown)
        payload = {
            "text": _mrkdwn(_fit(fallback, cls.FALLBACK_MAX, cost=_mrkdwn_units)),
            "blocks": [
                # plain_text is shown as it is and never parsed for mentions or links, so it is
                # not escaped (an entity would show literally).
                {"type": "header", "text": {"type": "plain_text", "text": subject}},
                *sections,
                {"type": "divider"},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
            "unfurl_links": False,
        }
        return payload, len(shown)

    @classmethod
    def _item_text(cls, item: DigestItem) -> str:
        title = _mrkdwn(_fit(item.title, cls.TITLE_MAX, cost=_mrkdwn_units)) or "Untitled"
        source = _mrkdwn(_fit(item.byline, cls.SOURCE_MAX, cost=_mrkdwn_units))
        takeaway = _mrkdwn(_fit(item.takeaway, cls.TAKEAWAY_MAX, cost=_mrkdwn_units))
        line = " — ".join(part for part in (source and f"_{source}_", takeaway) if part)
        text = f"*{_slack_link(item.url, title, cls.URL_MAX, escaped=True)}*"
        if lead := _mrkdwn(_fit(item.lead, cls.LEAD_MAX, cost=_mrkdwn_units)):
            text = f"{text}\n*{lead}*"
        return f"{text}\n{line}" if line else text

    @classmethod
    def _more_text(cls, message: DigestMessage, dropped: int) -> str:
        more = _slack_link(message.archive_url, "More in today's digest", cls.URL_MAX)
        return f"{more}: {dropped} more {'story' if dropped == 1 else 'stories'}"

    def send(self, *, message: DigestMessage, recipient: Recipient) -> int:
        payload, shown = self.compose(message)
        try:
            response = self.client.post(recipient.slack_webhook_url, json=payload)
        except (httpx.HTTPError, BlockedURL) as exc:
            raise _http_failure(exc) from exc
        if response.status_code == 200:
            return shown
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

    def __init__(self) -> None:
        self.client = _http_client()

    # Messaging API: a bubble's JSON at most 30 KB, altText at most 1500 characters, a URI
    # action's uri at most 1000 characters. The budget is counted on JSON with every non-ASCII
    # character \u-escaped, the largest form any encoder gives, and leaves a margin.
    BUBBLE_BUDGET = 25_000
    URI_MAX = 1000
    ALT_TEXT_MAX = 400  # LINE allows 1500; a notification shows far less
    TITLE_MAX, SOURCE_MAX, TAKEAWAY_MAX, LEAD_MAX = 200, 60, 400, 300

    @classmethod
    def payload(cls, message: DigestMessage, *, to: str) -> dict[str, Any]:
        return cls.compose(message, to=to)[0]

    @classmethod
    def compose(cls, message: DigestMessage, *, to: str) -> tuple[dict[str, Any], int]:
        """The push body and how many stories it shows: one Flex bubble within LINE's limits by
        construction. Texts are cut to their limits; stories are added while the bubble's JSON
        stays within BUBBLE_BUDGET (room for the "more" line kept), the rest are left for a
        "More in today's digest" link to the web archive. A link too long for LINE is left
        out, never cut."""
        head = [
            {
                "type": "text",
                "text": _fit(message.subject, cls.TITLE_MAX),
                "weight": "bold",
                "size": "lg",
                "wrap": True,
            },
        ]
        footer = [
            {"type": "button", "action": {"type": "uri", "label": label, "uri": url}}
            for label, url in (("Web", message.archive_url), ("Settings", message.preferences_url))
            if cls._uri_ok(url)
        ]

        def bubble(contents: list[dict[str, Any]]) -> dict[str, Any]:
            bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": contents}}
            if footer:
                bubble["footer"] = {"type": "box", "layout": "horizontal", "contents": footer}
            return bubble

        # Adding a component to the body's list adds its JSON and one comma, nothing else.
        used = _json_size(bubble([*head, cls._more(message, len(message.items) + message.more)]))
        body = list(head)
        shown: list[DigestItem] = []
        for item in message.items:
            components = cls._item_components(item)
            size = sum(_json_size(component) + 1 for component in components)
            if used + size > cls.BUBBLE_BUDGET:
                break
            used += size
            body += components
            shown.append(item)
        if dropped := len(message.items) - len(shown) + message.more:
            body.append(cls._more(message, dropped))
        titles = "; ".join(_fit(item.title, cls.TITLE_MAX) for item in shown)
        alt = _fit(f"{message.subject}: {titles}", cls.ALT_TEXT_MAX)
        payload = {"to": to, "messages": [{"type": "flex", "altText": alt, "contents": bubble(body)}]}
        return payload, len(shown)

    @classmethod
    def _uri_ok(cls, url: str) -> bool:
        return 0 < len(url) <= cls.URI_MAX and url.startswith(("https://", "http://"))

    @classmethod
    def _item_components(cls, item: DigestItem) -> list[dict[str, Any]]:
        title: dict[str, Any] = {
            "type": "text",
            "text": _fit(item.title, cls.TITLE_MAX) or "Untitled",
            "weight": "bold",
            "wrap": True,
            "margin": "md",
        }
        if cls._uri_ok(item.url):
            title["action"] = {"type": "uri", "label": "Read", "uri": item.url}
        components = [{"type": "separator", "margin": "md"}, title]
        # LINE refuses an empty text component.
        if source := _fit(item.byline, cls.SOURCE_MAX):
            components.append({"type": "text", "text": source, "size": "xs", "color": "#666666"})
        if lead := _fit(item.lead, cls.LEAD_MAX):
            components.append({"type": "text", "text": lead, "size": "sm", "color": "#1a4f8b", "wrap": True})
        if takeaway := _fit(item.takeaway, cls.TAKEAWAY_MAX):
            components.append({"type": "text", "text": takeaway, "size": "sm", "wrap": True})
        return components

    @classmethod
    def _more(cls, message: DigestMessage, dropped: int) -> dict[str, Any]:
        more: dict[str, Any] = {
            "type": "text",
            "text": f"More in today's digest: {dropped} more {'story' if dropped == 1 else 'stories'}",
            "size": "sm",
            "wrap": True,
            "margin": "lg",
        }
        if cls._uri_ok(message.archive_url):
            more["action"] = {"type": "uri", "label": "More", "uri": message.archive_url}
        return more

    def send(self, *, message: DigestMessage, recipient: Recipient) -> int:
        token = settings.LINE_CHANNEL_ACCESS_TOKEN
        if not token:
            raise ChannelError("LINE_CHANNEL_ACCESS_TOKEN is not set", kind=FailureKind.ERROR)
        url = settings.LINE_API_BASE_URL.rstrip("/") + "/v2/bot/message/push"
        headers = {"Authorization": f"Bearer {token}", "X-Line-Retry-Key": recipient.retry_key}
        payload, shown = self.compose(message, to=recipient.line_user_id)
        try:
            response = self.client.post(url, json=payload, headers=headers)
        except (httpx.HTTPError, BlockedURL) as exc:
            failure = _http_failure(exc)
            if not isinstance(exc, BlockedURL):
                # The retry key makes an unanswered request safe to repeat.
                failure.kind = FailureKind.TEMPORARY
            raise failure from exc
        # 409: this retry key was already accepted, i.e. an earlier attempt got through.
        if response.status_code in (200, 409):
            return shown
        detail = f"LINE {response.status_code}: {response.text[:500]}"
        # 403: not a friend of the bot or blocked; 400 naming `to`: an unknown or malformed id.
        if response.status_code == 403 or (response.status_code == 400 and _line_names_recipient(response)):
            raise ChannelError(detail, kind=FailureKind.HARD)
        if response.status_code in (400, 413):
            # The message itself was refused: our bug, not the subscriber's. Retrying the same
            # payload cannot help, pausing would punish them for it.
            raise ChannelError(detail, kind=FailureKind.ERROR)
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


def _line_names_recipient(response: httpx.Response) -> bool:
    """Whether LINE's 400 is about `to` (an unknown or malformed user id: the subscriber's), as
    opposed to the messages (ours). LINE names the property in `message` or in `details`."""
    if len(response.content) > 64_000:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    details = body.get("details")
    properties = (
        [d.get("property") for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    )
    return "to" in properties or "'to'" in str(body.get("message", ""))


ELLIPSIS = "…"


def _utf16_units(text: str) -> int:
    """Length as Slack and LINE count characters (UTF-16 code units): never less than len()."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _mrkdwn_units(text: str) -> int:
    return _utf16_units(_mrkdwn(text))


def _fit(text: str, limit: int, *, cost: Callable[[str], int] = _utf16_units) -> str:
    """`text` on one line (whitespace runs become one space, control characters go) and at most
    `limit` long as `cost` counts it, cut with an ellipsis at the last word boundary when one is
    in the second half of what fits (a single giant word is cut inside). `cost` must add up
    character by character, at least 1 a character. It reads at most 2 × `limit` characters of
    `text`, so its cost is bounded by `limit` however long the text is."""
    # The result holds at most `limit` characters; twice that leaves room for collapsed spaces.
    head = text[: 2 * limit]
    longer = len(text) > len(head)
    text = " ".join(head.split())
    if not text.isprintable():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    if not longer and cost(text) <= limit:
        return text
    budget = limit - cost(ELLIPSIS)
    used = end = 0
    for ch in text:
        used += cost(ch)
        if used > budget:
            break
        end += 1
    cut = text[:end]
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _json_size(value: Any) -> int:
    """Characters (and bytes: it is ASCII) of `value` as compact, \\u-escaped JSON."""
    return len(json.dumps(value, ensure_ascii=True, separators=(",", ":")))


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str, limit: int, *, escaped: bool = False) -> str:
    """`<url|label>` in mrkdwn; only the label when the URL is longer than `limit` once escaped.

    In the URL, & is escaped like all mrkdwn, and what would end the link or cannot stand in a
    URL (<, >, |, whitespace, control characters) is percent-encoded.
    """
    label = label if escaped else _mrkdwn(label)
    safe = "".join(
        "&amp;"
        if ch == "&"
        else quote(ch, safe="")
        if ch in "<>|" or ch.isspace() or not ch.isprintable()
        else ch
        for ch in url
    )
    if not safe or _utf16_units(safe) > limit:
        return label
    return f"<{safe}|{label}>"
