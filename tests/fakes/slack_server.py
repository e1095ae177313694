"""A loopback Slack incoming-webhook endpoint speaking real HTTP, for channel tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSlack:
    """POST /services/T.../B.../secret → "ok". `statuses[path] = (code, body)` makes a
    webhook answer like a revoked one (404 no_service, 410 channel_is_archived, ...)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: dict[str, tuple[int, str]] = {}
        self.slow_seconds = 0.0  # post the message, then answer only after this long
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"null")}
                )
                code, text = fake.statuses.get(self.path, (200, "ok"))
                if fake.slow_seconds:
                    time.sleep(fake.slow_seconds)
                data = text.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def webhook_url(self, secret: str = "XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"{self.base_url}/services/T00000000/B00000000/{secret}"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
