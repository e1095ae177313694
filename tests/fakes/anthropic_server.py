"""A loopback fake of the Anthropic Messages and Message Batches APIs, for the real SDK.

Point the SDK at `fake.url` (ANTHROPIC_BASE_URL). By default every call answers with a valid
`record_summary` tool call built from the article in the request's data block, with quotes
copied from it. Tests queue other behaviours with `fake.script.append(...)`: an HTTP error,
a hand-written tool input, or any callable taking the request body.

Token counts are worked out apart from the budget estimate in
articles/summarizers/sources.py, so that a test of the budget is not circular: a token per
4 ASCII characters (a run between digits and other characters, rounded up), per group of up
to 3 digits, and per 2 bytes of UTF-8 of any other run (Japanese 1.5 a character). Against
the tokenisers of Claude 2 and GPT-4 on news text that is 1.1 to 1.3 times their count for
English (the system prompt 1.1), Japanese, Chinese and Korean, about as many for figures,
0.9 for German. Prompt caching is imitated the way the
real API behaves: a prefix (tools + system) marked with cache_control and at least
`min_cacheable_tokens` long is written on first use and read on later calls; shorter
prefixes are silently not cached.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_MARKER = re.compile(r"^<<<ARTICLE-(\w+)$(.*?)^ARTICLE-\1>>>$", re.MULTILINE | re.DOTALL)
_SOURCE = re.compile(r"^<<<SOURCE-(\d+)-(\w+)$(.*?)^SOURCE-\1-\2>>>$", re.MULTILINE | re.DOTALL)
# A full stop between digits ("2.4 billion") does not end a sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+[.!?]")


_PIECE = re.compile(r"[0-9]{1,3}|[^\x00-\x7f]+|[^0-9\x80-\U0010ffff]+")


def tokens(text: str) -> int:
    """Tokens of `text` as this fake bills them (module docstring)."""
    count = 0
    for match in _PIECE.finditer(text):
        piece = match.group()
        if not piece.isascii():
            count += math.ceil(len(piece.encode()) / 2)
        elif piece[0].isdigit():
            count += 1
        else:
            count += math.ceil(len(piece) / 4)
    return count


def message_tokens(messages: list[dict[str, Any]]) -> int:
    """The text of the messages, and a few tokens per message for its role and framing."""
    total = 0
    for message in messages:
        content = message.get("content", "")
        parts = (
            [content]
            if isinstance(content, str)
            else [p.get("text", "") for p in content if isinstance(p, dict)]
        )
        total += 4 + sum(tokens(part) for part in parts)
    return total


def article_text_from(user_content: str) -> str:
    """The article body inside the data block (without the Title/Source header lines)."""
    match = _MARKER.search(user_content)
    if not match:
        return ""
    lines = match.group(2).strip("\n").split("\n")
    body = [ln for ln in lines if not ln.startswith(("Title: ", "Source: "))]
    return "\n".join(body).strip()


def summary_for(text: str) -> dict[str, Any]:
    """A valid summary whose every quote is a sentence of `text`."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= 4] or [text.strip()[:200]]
    pick = [sentences[i % len(sentences)] for i in range(4)]
    return {
        "key_takeaway": pick[0],
        "key_points": [
            {"heading": "What happened", "text": pick[0], "evidence": [pick[0]]},
            {"heading": "Why it matters", "text": pick[1], "evidence": [pick[1]]},
            {"heading": "What to watch", "text": pick[2], "evidence": [pick[2]]},
        ],
        "faq": [{"question": "What else does the story say?", "answer": pick[3], "evidence": [pick[3]]}],
        "suggested_topics": [],
    }


def sources_from(user_content: str) -> dict[int, str]:
    """A story request's numbered sources: {n: body text without its header lines}."""
    found = {}
    for match in _SOURCE.finditer(user_content):
        lines = match.group(3).strip("\n").split("\n")
        body = [ln for ln in lines if not ln.startswith(("Title: ", "Source "))]
        found[int(match.group(1))] = "\n".join(body).strip()
    return found


def story_summary_for(sources: dict[int, str], *, updating: bool = False) -> dict[str, Any]:
    """A valid story summary: What happened cites a sentence of every source (up to three),
    the other points source 1, each quote copied from the source it cites."""
    first = {n: summary_for(text)["key_points"][0]["text"] for n, text in sources.items()}
    one = summary_for(sources[min(sources)])
    cite = lambda point: [{"source": min(sources), "quote": q} for q in point["evidence"]]  # noqa: E731
    return {
        "key_takeaway": one["key_takeaway"],
        "key_points": [
            {"heading": "What happened", "text": one["key_points"][0]["text"],
             "citations": [{"source": n, "quote": q} for n, q in list(first.items())[:3]]},
            {"heading": "Why it matters", "text": one["key_points"][1]["text"], "citations": cite(one["key_points"][1])},
            {"heading": "What to watch", "text": one["key_points"][2]["text"], "citations": cite(one["key_points"][2])},
        ],
        "faq": [
            {"question": q["question"], "answer": q["answer"], "citations": cite(q)} for q in one["faq"]
        ],
        "disagreements": [],
        "update": {"is_new": True, "line": f"Now reported by {len(sources)} sources." if updating else ""},
        "suggested_topics": [],
    }  # fmt: skip


def user_content(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, kind: str, message: str, *, headers: dict[str, str] | None = None, **extra) -> Reply:
    return Reply(
        status, {"type": "error", "error": {"type": kind, "message": message, **extra}}, headers or {}
    )


class FakeAnthropic:
    def __init__(self, *, latency: float = 0.0, min_cacheable_tokens: int = 4096) -> None:
        self.latency = latency
        self.min_cacheable_tokens = min_cacheable_tokens
        self.script: list[Reply | dict | Callable[[dict], Reply | dict]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_polls_until_ended = 1
        self.batch_errored_ids: set[str] = set()
        self._cache: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- behaviour -------------------------------------------------------------------

    def message_for(self, body: dict[str, Any], tool_input: Any = None) -> dict[str, Any]:
        tool_name = (body.get("tool_choice") or {}).get("name", "record_summary")
        if tool_input is None:
            content = user_content(body)
            if tool_name == "record_story_summary":
                tool_input = story_summary_for(sources_from(content), updating="Current summary:" in content)
            else:
                tool_input = summary_for(article_text_from(content))
        prefix = json.dumps(body.get("tools", []), sort_keys=True) + json.dumps(body.get("system", ""))
        prefix_tokens = tokens(prefix)
        marked = "cache_control" in prefix
        cache_write = cache_read = 0
        uncached = message_tokens(body.get("messages", []))
        if marked and prefix_tokens >= self.min_cacheable_tokens:
            key = hashlib.sha256(prefix.encode()).hexdigest()
            with self._lock:
                if key in self._cache:
                    cache_read = prefix_tokens
                else:
                    self._cache.add(key)
                    cache_write = prefix_tokens
        else:
            uncached += prefix_tokens
        return {
            "id": f"msg_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-haiku-4-5"),
            "content": [
                {
                    "type": "tool_use",
                    "id": f"toolu_{next(self._ids)}",
                    "name": tool_name,
                    "input": tool_input,
                }
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": uncached,
                "output_tokens": tokens(json.dumps(tool_input, ensure_ascii=False)),
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
            },
        }

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            step = self.script.pop(0) if self.script else None
        if callable(step):
            step = step(body)
        if isinstance(step, Reply):
            return step
        return Reply(200, self.message_for(body, tool_input=step))  # None or a tool input dict

    def _batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        ended = batch["polls"] >= self.batch_polls_until_ended
        n = len(batch["requests"])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0,
                               "errored": 0, "canceled": 0, "expired": 0},
            "created_at": "2026-11-24T00:00:00Z",
            "expires_at": "2026-11-25T00:00:00Z",
            "ended_at": "2026-11-24T00:10:00Z" if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, reply: Reply, *, jsonl: bool = False) -> None:
                data = reply.body if jsonl else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/binary" if jsonl else "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path.startswith("/v1/messages/batches"):
                    batch_id = f"msgbatch_{next(fake._ids)}"
                    fake.batches[batch_id] = {"requests": body["requests"], "polls": 0}
                    return self._send(Reply(200, fake._batch(batch_id)))
                if self.path.startswith("/v1/messages"):
                    with fake._lock:
                        fake.requests.append(body)
                        fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if fake.latency:
                        time.sleep(fake.latency)
                    return self._send(fake._next_reply(body))
                self._send(error(404, "not_found_error", self.path))

            def do_GET(self) -> None:
                match = re.match(r"^/v1/messages/batches/(\w+)(/results)?", self.path)
                if not match or match.group(1) not in fake.batches:
                    return self._send(error(404, "not_found_error", self.path))
                batch_id, results = match.group(1), match.group(2)
                if not results:
                    fake.batches[batch_id]["polls"] += 1
                    return self._send(Reply(200, fake._batch(batch_id)))
                lines = []
                for item in fake.batches[batch_id]["requests"]:
                    if item["custom_id"] in fake.batch_errored_ids:
                        result = {
                            "type": "errored",
                            "error": {"type": "error", "error": {"type": "api_error", "message": "boom"}},
                        }
                    else:
                        result = {"type": "succeeded", "message": fake.message_for(item["params"])}
                    lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
                self._send(Reply(200, ("\n".join(lines) + "\n").encode()), jsonl=True)

        return Handler
