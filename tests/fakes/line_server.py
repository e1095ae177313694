"""A loopback LINE Messaging API (push endpoint) speaking real HTTP, for channel tests.

It behaves like LINE where the tests need it to: a bearer token is required, a push is
accepted at most once per X-Line-Retry-Key (repeats get 409), and it can be told to fail,
to reject a user id, or to accept a push and then not answer in time.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.fakes.loopback import LoopbackServer, QuietHandler


class FakeLine(LoopbackServer):
    def __init__(self, token: str = "test-channel-token") -> None:
        self.token = token
        self.requests: list[dict[str, Any]] = []  # every request that reached us
        self.accepted: list[dict[str, Any]] = []  # pushes actually "delivered"
        self.accepted_keys: dict[str, str] = {}
        self.fail_next: list[int] = []  # statuses to answer (without accepting) first
        self.user_status: dict[str, int] = {}  # e.g. {"U...": 400} for an unknown user
        self.slow_seconds = 0.0  # accept, then answer only after this long
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                key = self.headers.get("X-Line-Retry-Key", "")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
                if self.path != "/v2/bot/message/push":
                    return self._reply(404, {"message": "Not found"})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._reply(401, {"message": "Authentication failed"})
                if fake.fail_next:
                    return self._reply(fake.fail_next.pop(0), {"message": "Internal error"})
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
