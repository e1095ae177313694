"""A loopback LINE Messaging API (push endpoint) speaking real HTTP, for channel tests.

It behaves like LINE where the tests need it to: a bearer token is required, a message that
breaks the Messaging API's limits is refused with 400 and LINE's error body, a push is accepted
at most once per X-Line-Retry-Key (repeats get 409), and it can be told to fail, to reject a
user id, or to accept a push and then not answer in time.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.fakes.loopback import LoopbackServer, QuietHandler

# The Messaging API reference's limits for a push of Flex messages.
MAX_MESSAGES = 5
ALT_TEXT_MAX = 1500  # characters; counted here in UTF-16 code units, the stricter reading
BUBBLE_JSON_MAX = 30_000  # "30 KB": bytes of the bubble's JSON as sent
URI_MAX = 1000
BUTTON_LABEL_MAX = 40


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _component_problems(node: Any, path: str) -> list[dict[str, str]]:
    problems = []
    if isinstance(node, dict):
        if node.get("type") == "text" and not node.get("text"):
            problems.append({"message": "May not be empty", "property": f"{path}.text"})
        action = node.get("action")
        if isinstance(action, dict) and action.get("type") == "uri":
            uri = action.get("uri", "")
            if not 0 < len(uri) <= URI_MAX or not uri.startswith(("http://", "https://")):
                problems.append({"message": "invalid uri", "property": f"{path}.action.uri"})
            if node.get("type") == "button" and not 0 < len(action.get("label", "")) <= BUTTON_LABEL_MAX:
                problems.append({"message": "invalid label", "property": f"{path}.action.label"})
        for key, value in node.items():
            problems += _component_problems(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _component_problems(value, f"{path}[{i}]")
    return problems


def message_problems(body: Any) -> list[dict[str, str]]:
    """LINE's `details` for what is wrong with the messages of a push body; [] when nothing."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"}]
    problems = []
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if message.get("type") != "flex":
            continue
        alt = message.get("altText", "")
        if not 0 < _utf16_units(alt) <= ALT_TEXT_MAX:
            problems.append(
                {"message": f"Length must be between 1 and {ALT_TEXT_MAX}", "property": f"{path}.altText"}
            )
        contents = message.get("contents", {})
        size = len(json.dumps(contents, ensure_ascii=False, separators=(",", ":")).encode())
        if contents.get("type") == "bubble" and size > BUBBLE_JSON_MAX:
            problems.append({"message": "The flex message is too large", "property": f"{path}.contents"})
        problems += _component_problems(contents, f"{path}.contents")
    return problems


class FakeLine(LoopbackServer):
    def __init__(self, token: str = "test-channel-token") -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []  # every request that reached us
        self.accepted: list[dict[str, Any]] = []  # pushes actually "delivered"
        self.accepted_keys: dict[str, str] = {}
        # Answers to give (without accepting) first: a status, or (status, LINE error body).
        self.fail_next: list[int | tuple[int, dict[str, Any]]] = []
        self.user_status: dict[str, int] = {}  # e.g. {"U...": 400} for an unknown user
        self.slow_seconds = 0.0  # accept, then answer only after this long
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"null")
                key = self.headers.get("X-Line-Retry-Key", "")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": raw, "json": body}
                )
                if self.path != "/v2/bot/message/push":
                    return self._reply(404, {"message": "Not found"})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._reply(401, {"message": "Authentication failed"})
                if fake.fail_next:
                    answer = fake.fail_next.pop(0)
                    code, error = (
                        answer if isinstance(answer, tuple) else (answer, {"message": "Internal error"})
                    )
                    return self._reply(code, error)
                problems = message_problems(body)
                if problems:
                    return self._reply(
                        400,
                        {
                            "message": "A message (messages[0]) in the request body is invalid",
                            "details": problems,
                        },
                    )
                if key in fake.accepted_keys:
                    return self._reply(
                        409,
                        {"message": "The retry key is already accepted"},
                        {"x-line-accepted-request-id": fake.accepted_keys[key]},
                    )
                status = fake.user_status.get(body.get("to", ""))
                if status:
                    return self._reply(
                        status, {"message": "The property, 'to', in the request body is invalid"}
                    )
                request_id = str(uuid.uuid4())
                if key:
                    fake.accepted_keys[key] = request_id
                fake.accepted.append(body)
                if fake.slow_seconds:
                    time.sleep(fake.slow_seconds)
                return self._reply(200, {"sentMessages": [{"id": "1", "quoteToken": "q"}]})

            def _reply(self, code: int, payload: dict, headers: dict | None = None) -> None:
                self.reply(code, json.dumps(payload).encode(), "application/json", headers)

        self.serve(Handler)
