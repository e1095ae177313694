"""A loopback fake of an OpenAI-compatible server (vLLM, Ollama...): /v1/chat/completions and
/v1/embeddings.

Chat: by default it answers with JSON content matching the requested schema, built from the
article in the data block; tests queue other replies in `fake.script`.

Embeddings: by default each input text gets a hashed bag-of-words vector (texts sharing words
point the same way); tests set `fake.embedder` (text -> list of numbers) to say which texts
mean the same, or queue replies in `fake.embedding_script` (a Reply, bytes sent as the body,
or a callable taking the request body). `fake.embedding_inputs` records every text embedded.
"""

from __future__ import annotations

import hashlib
import json
import re
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

BAG_DIMENSIONS = 64


def bag_of_words(text: str) -> list[float]:
    """A vector with one hashed coordinate per distinct word: a stand-in for a model that
    knows nothing but shared words."""
    vector = [0.0] * BAG_DIMENSIONS
    for word in set(re.findall(r"[a-z0-9]+", text.lower())):
        vector[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest()) % BAG_DIMENSIONS] += 1.0
    return vector


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Reply | dict | str | Callable[[dict], Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.embedder: Callable[[str], list[float]] = bag_of_words
        self.embedding_script: list[Reply | bytes | Callable[[dict], Any]] = []
        self.embedding_inputs: list[str] = []
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

    def _embeddings(self, body: dict[str, Any]) -> Reply | bytes:
        step = self.embedding_script.pop(0) if self.embedding_script else None
        if callable(step):
            step = step(body)
        if step is not None:
            return step
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.embedding_inputs.extend(texts)
        return Reply(
            200,
            {
                "object": "list",
                "model": body.get("model"),
                "data": [
                    {"object": "embedding", "index": i, "embedding": self.embedder(text)}
                    for i, text in enumerate(texts)
                ],
                "usage": {"prompt_tokens": sum(map(tokens, texts)), "total_tokens": sum(map(tokens, texts))},
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
                if self.path == "/v1/chat/completions":
                    reply = fake._reply(body)
                elif self.path == "/v1/embeddings":
                    reply = fake._embeddings(body)
                else:
                    reply = Reply(404, {"error": "no"})
                if isinstance(reply, bytes):  # a body that is not JSON
                    reply = Reply(200, reply)
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        return Handler
