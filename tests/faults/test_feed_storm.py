"""Fault 5: a feed storm. Of 50 sources, 20 hang, 10 send garbage, 5 redirect in a loop."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.utils import timezone

from articles.models import Article, FetchAttempt, Source
from tests import factories, processes
from tests.fakes.feed_server import FeedServer, Route, rss

from .conftest import needs_services, queue_name, worker_log

HEALTHY, HANGING, GARBAGE, LOOPING = 15, 20, 10, 5
STORIES_PER_FEED = 3
GARBAGE_BODIES = [
    b"\x00\x9f\x92\x96 not xml at all \xff\xfe",
    b"<html><head><title>Parked domain</title></head><body>Buy this domain</body></html>",
    b'{"error": "feed moved"}',
    b"",
    b"Internal Server Error",
]


SYLLABLES = "ba ko ri tu me sa lo ni ve du ka pe zo gi fa".split()


def made_up_word(*key: int) -> str:
    """A word of its own for each key: stories built from these share no vocabulary, so no
    two are grouped into one story."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return "".join(SYLLABLES[b % len(SYLLABLES)] for b in digest[:4])


def story_title(i: int, j: int) -> str:
    return f"{made_up_word(i, j).title()} {made_up_word(i, j, 99)} {i}-{j}"


def story_page(i: int, j: int) -> bytes:
    # Every story has its own words: identical text would be marked a duplicate instead, and
    # texts that share most of their words would be grouped into one story.
    sentences = " ".join(
        f"{made_up_word(i, j).title()} {' '.join(made_up_word(i, j, k, w) for w in range(8))} number "
        f"{i * 100 + j * 10 + k} {' '.join(made_up_word(i, j, k, w) for w in range(8, 16))}."
        for k in range(8)
    )
    title = story_title(i, j)
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{sentences}</p></article></body></html>"
    ).encode()


@pytest.mark.faults
@needs_services
def test_a_feed_storm_does_not_stop_the_healthy_sources_being_ingested_in_one_poll(
    transactional_db, tmp_path, spawn
):
    from articles.ingest.tasks import poll_due_sources

    queue = queue_name("poll")
    with FeedServer() as server:
        server.routes["/robots.txt"] = Route(status=404, body=b"", content_type="text/plain")
        healthy, bad = [], []
        for i in range(HEALTHY):
            items = []
            for j in range(STORIES_PER_FEED):
                server.routes[f"/story/{i}-{j}"] = Route(body=story_page(i, j), content_type="text/html")
                items.append((story_title(i, j), server.url(f"/story/{i}-{j}")))
            server.routes[f"/healthy/{i}.xml"] = Route(body=rss(items))
            healthy.append(factories.make_source(feed_url=server.url(f"/healthy/{i}.xml")))
        for i in range(HANGING):
            server.routes[f"/hang/{i}.xml"] = Route(body=rss([]), delay=60)
            bad.append(factories.make_source(feed_url=server.url(f"/hang/{i}.xml")))
        for i in range(GARBAGE):
            body = GARBAGE_BODIES[i % len(GARBAGE_BODIES)]
            server.routes[f"/garbage/{i}.xml"] = Route(body=body)
            bad.append(factories.make_source(feed_url=server.url(f"/garbage/{i}.xml")))
        for i in range(LOOPING):
            server.routes[f"/loop/{i}a.xml"] = Route(status=302, location=server.url(f"/loop/{i}b.xml"))
            server.routes[f"/loop/{i}b.xml"] = Route(status=302, location=server.url(f"/loop/{i}a.xml"))
            bad.append(factories.make_source(feed_url=server.url(f"/loop/{i}a.xml")))
        assert Source.objects.due(timezone.now()).count() == 50

        spawn(
            "worker",
            # poll_due_sources on our own queue fans out to the ingest queue (settings' routes).
            queues=f"{queue},ingest",
            concurrency=24,
            FETCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
            FETCH_TIMEOUT_SECONDS="2",
            FETCH_TOTAL_TIMEOUT_SECONDS="5",
            # On loopback all 50 sources share one host; in the wild they are 50 hosts, each
            # with its own politeness limit. Lift the per-host cap so that is what we test.
            FETCH_PER_HOST_CONCURRENCY="50",
        )
        started = time.monotonic()
        poll_due_sources.apply_async(queue=queue)
        expected = HEALTHY * STORIES_PER_FEED
        processes.wait_until(
            lambda: Article.objects.filter(status=Article.Status.EXTRACTED).count() == expected,
            timeout=60,
            interval=0.5,
            message="every healthy story extracted",
        )
        ingested_after = time.monotonic() - started
        processes.wait_until(
            lambda: FetchAttempt.objects.count() == 50, timeout=30, message="one attempt per source"
        )

    assert "Traceback" not in worker_log(tmp_path, "worker")
    # Well inside one poll cycle (the beat ticks every 120 s; the shortest interval is 5 min).
    assert ingested_after < 60
    assert Article.objects.count() == expected
    assert not Article.objects.exclude(source__in=healthy).exists()
    for source in healthy:
        assert source.articles.filter(status=Article.Status.EXTRACTED).count() == STORIES_PER_FEED
        assert FetchAttempt.objects.get(source=source).outcome == FetchAttempt.Outcome.OK
    failed = FetchAttempt.objects.filter(source__in=bad)
    assert failed.count() == len(bad)
    assert not failed.exclude(outcome=FetchAttempt.Outcome.FAILED).exists()
    classes = dict(failed.values_list("source__feed_url", "error_class"))
    for url, error_class in classes.items():
        kind = url.split("/")[3]
        assert error_class == {"hang": "timeout", "garbage": "not-a-feed", "loop": "redirects"}[kind], url
    # Each failing source backs off instead of being hammered again next tick.
    assert not Source.objects.filter(pk__in=[s.pk for s in bad], next_poll_at__lte=timezone.now()).exists()
