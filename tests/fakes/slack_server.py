"""A loopback Slack incoming-webhook endpoint speaking real HTTP, for channel tests.

Like Slack, it refuses a message that breaks Block Kit's limits with 400 `invalid_blocks`
(or `msg_blocks_too_long`), so a payload that real Slack would reject fails here too.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.loopback import LoopbackServer, QuietHandler

# Block Kit's documented limits.
MAX_BLOCKS = 50
HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
# Not documented: Slack answers msg_blocks_too_long somewhere above 12,000 characters of text
# across all blocks. The fake refuses at 12,000.
BLOCKS_TEXT_MAX = 12_000


def block_kit_problems(payload: Any) -> tuple[str, list[str]]:
    """(Slack's error code, what is wrong) for `payload`; no problems: ("", [])."""
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return "no_text", ["neither text nor blocks"]
    blocks = payload.get("blocks", [])
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    total = 0
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]["text"]
            total += len(text)
            if block["text"].get("type") != "plain_text" or not 0 < len(text) <= HEADER_TEXT_MAX:
                problems.append(f"blocks[{i}]: header text of {len(text)} characters")
        elif kind == "section":
            text = block["text"]["text"]
            total += len(text)
            if not 0 < len(text) <= SECTION_TEXT_MAX:
                problems.append(f"blocks[{i}]: section text of {len(text)} characters")
        elif kind == "context":
            elements = block["elements"]
            total += sum(len(e.get("text", "")) for e in elements)
            if not 0 < len(elements) <= CONTEXT_ELEMENTS_MAX:
                problems.append(f"blocks[{i}]: {len(elements)} context elements")
            for e in elements:
                if not 0 < len(e.get("text", "")) <= SECTION_TEXT_MAX:
                    problems.append(f"blocks[{i}]: context text of {len(e.get('text', ''))} characters")
        elif kind != "divider":
            problems.append(f"blocks[{i}]: unknown block type {kind!r}")
    if problems:
        return "invalid_blocks", problems
    if total > BLOCKS_TEXT_MAX:
        return "msg_blocks_too_long", [f"{total} characters in blocks"]
    return "", []


class FakeSlack(LoopbackServer):
    """POST /services/T.../B.../secret → "ok". `statuses[path] = (code, body)` makes a
    webhook answer like a revoked one (404 no_service, 410 channel_is_archived, ...)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: dict[str, tuple[int, str]] = {}
        self.slow_seconds = 0.0  # post the message, then answer only after this long
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body or b"null")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "json": payload}
                )
                error, _ = block_kit_problems(payload)
                code, text = fake.statuses.get(self.path, (400, error) if error else (200, "ok"))
                if fake.slow_seconds:
                    time.sleep(fake.slow_seconds)
                self.reply(code, text.encode(), "text/plain")

        self.serve(Handler)

    def webhook_url(self, secret: str = "XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"{self.base_url}/services/T00000000/B00000000/{secret}"
