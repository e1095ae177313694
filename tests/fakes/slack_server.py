"""A loopback Slack incoming-webhook endpoint speaking real HTTP, for channel tests."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.loopback import LoopbackServer, QuietHandler


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
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"null")}
                )
                code, text = fake.statuses.get(self.path, (200, "ok"))
                if fake.slow_seconds:
                    time.sleep(fake.slow_seconds)
                self.reply(code, text.encode(), "text/plain")

        self.serve(Handler)

    def webhook_url(self, secret: str = "XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"{self.base_url}/services/T00000000/B00000000/{secret}"
