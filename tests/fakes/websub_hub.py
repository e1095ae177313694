"""A loopback WebSub hub speaking the W3C protocol (https://www.w3.org/TR/websub/) over real HTTP,
in both directions.

- Subscribers POST `hub.mode=subscribe` (form-encoded) with hub.callback, hub.topic and
  optionally hub.secret and hub.lease_seconds; the hub checks the request as §5.1 says and
  answers 202. The test then calls `verify()`, which sends the verification GET a hub sends
  (hub.mode, hub.topic, hub.challenge, hub.lease_seconds): only a callback that answers 2xx
  with the challenge as its body is subscribed. `deny()` sends hub.mode=denied.
- `distribute()` POSTs content to every subscriber of a topic, with Link headers naming the hub
  and the topic and X-Hub-Signature: sha256=HMAC(secret, body), as §7 says.
- Publishers POST `hub.mode=publish&hub.url=...`; each ping is recorded and, as a hub does,
  the hub fetches the URL straight away and keeps what it got. `fail_next` scripts the status
  of the next POSTs (e.g. a 503 to see a retry).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import httpx

from tests.fakes.loopback import LoopbackServer, QuietHandler


@dataclass
class SubscriptionRequest:
    mode: str
    topic: str
    callback: str
    secret: str = ""
    lease_seconds: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ping:
    url: str
    status: int = 0  # of the hub's fetch of `url`
    body: bytes = b""


class WebSubHub(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[SubscriptionRequest] = []
        self.subscribers: dict[tuple[str, str], SubscriptionRequest] = {}
        self.pings: list[Ping] = []
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        self.serve(self._handler())

    @property
    def url(self) -> str:
        return self.base_url + "/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                with hub.lock:
                    scripted = hub.fail_next.pop(0) if hub.fail_next else None
                if scripted is not None:
                    self.reply(scripted, b"scripted failure", "text/plain")
                    return
                status, message = hub._take(form, {k.lower(): v for k, v in self.headers.items()})
                self.reply(status, message.encode(), "text/plain")

        return Handler

    def _take(self, form: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, str]:
        mode = (form.get("hub.mode") or [""])[0]
        if mode == "publish":
            urls = form.get("hub.url") or []
            if not urls:
                return 400, "hub.url is required"
            for url in urls:
                ping = Ping(url=url)
                try:
                    response = httpx.get(url, timeout=10)
                    ping.status, ping.body = response.status_code, response.content
                except httpx.HTTPError:
                    pass  # the publisher's site is not up (a test without a live server)
                with self.lock:
                    self.pings.append(ping)
            return 204, ""
        if mode not in ("subscribe", "unsubscribe"):
            return 400, "hub.mode must be subscribe, unsubscribe or publish"
        callback = (form.get("hub.callback") or [""])[0]
        topic = (form.get("hub.topic") or [""])[0]
        secret = (form.get("hub.secret") or [""])[0]
        lease = (form.get("hub.lease_seconds") or [""])[0]
        if not callback.startswith(("http://", "https://")) or not topic:
            return 400, "hub.callback and hub.topic are required"
        if len(secret.encode()) >= 200:
            return 400, "hub.secret must be less than 200 bytes"
        if lease and not lease.isdigit():
            return 400, "hub.lease_seconds must be a number of seconds"
        with self.lock:
            self.requests.append(SubscriptionRequest(mode, topic, callback, secret, lease, headers))
        return 202, ""

    # --- What a hub does on its own -------------------------------------------------------

    def verify(
        self,
        request: SubscriptionRequest | None = None,
        *,
        topic: str | None = None,
        mode: str | None = None,
        lease_seconds: str | None = None,
    ) -> httpx.Response:
        """Send the verification GET for a subscription request (the latest by default), with a
        fresh challenge; subscribe the callback if it echoes the challenge with a 2xx."""
        request = request or self.requests[-1]
        challenge = secrets.token_urlsafe(24)
        params = {
            "hub.mode": mode or request.mode,
            "hub.topic": topic or request.topic,
            "hub.challenge": challenge,
            "hub.lease_seconds": lease_seconds or request.lease_seconds or "864000",
        }
        response = httpx.get(request.callback, params=params, timeout=10)
        confirmed = response.is_success and response.text == challenge
        key = (request.topic, request.callback)
        with self.lock:
            if confirmed and params["hub.mode"] == "subscribe":
                self.subscribers[key] = request
            elif confirmed and params["hub.mode"] == "unsubscribe":
                self.subscribers.pop(key, None)
        return response

    def deny(self, request: SubscriptionRequest | None = None, *, reason: str = "") -> httpx.Response:
        request = request or self.requests[-1]
        params = {"hub.mode": "denied", "hub.topic": request.topic, "hub.reason": reason}
        return httpx.get(request.callback, params=params, timeout=10)

    def distribute(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/atom+xml",
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[httpx.Response]:
        """POST `body` to every verified subscriber of `topic`, signed with each one's secret
        (or with `signature` as given; "" sends none)."""
        responses = []
        for (subscribed_topic, callback), request in list(self.subscribers.items()):
            if subscribed_topic != topic:
                continue
            sent = {
                "Content-Type": content_type,
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            }
            if signature is None and request.secret:
                digest = hmac.new(request.secret.encode(), body, hashlib.sha256).hexdigest()
                sent["X-Hub-Signature"] = f"sha256={digest}"
            elif signature:
                sent["X-Hub-Signature"] = signature
            sent.update(headers or {})
            responses.append(httpx.post(callback, content=body, headers=sent, timeout=10))
        return responses
