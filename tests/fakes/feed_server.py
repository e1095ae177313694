"""A loopback HTTP server for ingestion tests: real sockets, scripted routes.

Routes can send ETag/Last-Modified and answer 304, redirect, gzip, drip bytes slowly,
stream an endless body, or answer 429 with Retry-After. Every request is logged so a
test can check the headers we sent.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""  # answer 304 when If-None-Match matches
    last_modified: str = ""  # answer 304 when If-Modified-Since matches exactly
    location: str = ""  # for 3xx
    gzip: bool = False
    delay: float = 0.0  # seconds before the status line
    drip_seconds: float = 0.0  # pause between 1-byte writes of the body
    endless: bool = False  # stream zero-filled chunks until the client hangs up


@dataclass
class Hit:
    path: str
    headers: dict[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}))
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    server._serve(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(handler.path)
        if route is None:
            route = Route(body=b"not found", status=404, content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        inm = handler.headers.get("If-None-Match")
        ims = handler.headers.get("If-Modified-Since")
        if (route.etag and inm == route.etag) or (route.last_modified and ims == route.last_modified):
            handler.send_response(304)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(route.status)
        for name, value in route.headers.items():
            handler.send_header(name, value)
        if route.location:
            handler.send_header("Location", route.location)
        if route.etag:
            handler.send_header("ETag", route.etag)
        if route.last_modified:
            handler.send_header("Last-Modified", route.last_modified)
        handler.send_header("Content-Type", route.content_type)
        if route.endless:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b"\0" * 65536
            while True:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        body = gzip.compress(route.body) if route.gzip else route.body
        if route.gzip:
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if route.drip_seconds:
            for i in range(len(body)):
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
                time.sleep(route.drip_seconds)
        else:
            handler.wfile.write(body)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(settings) -> Iterator[FeedServer]:
    """Body of a `feed_server` fixture: a running loopback server the fetcher may reach
    (127.0.0.1 is opened, "localhost" is not)."""
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    with FeedServer() as server:
        yield server


def rss(items: list[tuple[str, str]], *, title: str = "Test feed", extra: str = "") -> bytes:
    """A small RSS 2.0 document from (title, link) pairs."""
    from xml.sax.saxutils import escape

    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>Tue, 24 Nov 2026 {10 + i % 10:02d}:00:00 GMT</pubDate>"
        f"<description>Summary of {t}.</description></item>"
        for i, (t, link) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{extra}{body}</channel></rss>"
    ).encode()


def fixtures_dir() -> Path | None:
    """The shared real-world fixtures beside the project root, or None when absent.

    A git worktree sits one level deeper (/work/wt/<name>), so its grandparent is tried too.
    """
    from django.conf import settings

    base = Path(settings.BASE_DIR)
    for candidate in (base.parent / "shared" / "fixtures", base.parent.parent / "shared" / "fixtures"):
        if candidate.is_dir():
            return candidate
    return None
