"""A loopback fake of an OpenAI-compatible /v1/chat/completions endpoint (vLLM, Ollama...).

By default it answers with JSON content matching the requested schema, built from the
article in the data block; tests queue other replies in `fake.script`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.anthropic_server import (
    Reply,
    article_text_from,
    sources_from,
    story_summary_for,
    summary_for,
    tokens,
)


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Reply | dict | str | Callable[[dict], Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _reply(self, body: dict[str, Any]) -> Reply:
        step = self.script.pop(0) if self.script else None
        if callable(step):
            step = step(body)
        if isinstance(step, Reply):
            return step
        user = body["messages"][-1]["content"]
        if step is None and body["response_format"]["json_schema"]["name"] == "story_summary":
            step = story_summary_for(sources_from(user), updating="Current summary:" in user)
        content = step if isinstance(step, str) else json.dumps(step or summary_for(article_text_from(user)))
        prompt = tokens(json.dumps(body["messages"]))
        return Reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": tokens(content),
                    "total_tokens": prompt,
                },
            },
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = (
                    fake._reply(body) if self.path == "/v1/chat/completions" else Reply(404, {"error": "no"})
                )
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
