"""articles/stories/embeddings.py: the /v1/embeddings client against a loopback
OpenAI-compatible server speaking real HTTP. Every way the endpoint can fail becomes an
EmbeddingsError, never a crash or a wrong vector."""

from __future__ import annotations

import math
import socket
import time

import pytest

from articles.stories import embeddings
from articles.stories.embeddings import EmbeddingsClient, EmbeddingsError
from tests.fakes.anthropic_server import Reply
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def client_for(fake: FakeOpenAI, **kwargs) -> EmbeddingsClient:
    kwargs.setdefault("timeout", 5.0)
    return EmbeddingsClient(base_url=fake.url, model="nomic-embed-text", **kwargs)


def reply_with(*vectors: list) -> Reply:
    return Reply(
        200, {"object": "list", "data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}
    )


def test_each_text_gets_a_unit_vector_in_the_order_sent(fake):
    fake.embedder = lambda text: [3.0, 4.0] if "rail" in text else [0.0, 2.0]

    with client_for(fake, api_key="local-key") as client:
        vectors = client.embed(["rail strike", "museum opens"])

    assert vectors == [(pytest.approx(0.6), pytest.approx(0.8)), (0.0, 1.0)]
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-6) for v in vectors)
    assert fake.requests[-1] == {
        "model": "nomic-embed-text",
        "input": ["rail strike", "museum opens"],
        "encoding_format": "float",
    }
    assert fake.headers[-1]["authorization"] == "Bearer local-key"


def test_a_reply_listing_vectors_out_of_order_is_put_back_in_input_order(fake):
    fake.embedding_script.append(
        Reply(200, {"data": [{"index": 1, "embedding": [0, 1]}, {"index": 0, "embedding": [1, 0]}]})
    )

    with client_for(fake) as client:
        assert client.embed(["first", "second"]) == [(1.0, 0.0), (0.0, 1.0)]


def test_vectors_come_back_rounded_to_float32_as_they_are_stored(fake):
    fake.embedder = lambda text: [1.0, 2.0, 3.0]

    with client_for(fake) as client:
        [vector] = client.embed(["x"])

    assert embeddings.unpack(embeddings.pack(vector)) == vector


def test_many_texts_go_in_requests_of_the_batch_size(fake):
    texts = [f"report {n}" for n in range(5)]

    with client_for(fake, batch_size=2) as client:
        vectors = client.embed_all(texts)

    assert [len(body["input"]) for body in fake.requests] == [2, 2, 1]
    assert fake.embedding_inputs == texts and all(vectors)


def test_after_a_failed_batch_no_more_requests_are_sent_and_the_rest_have_no_vector(fake, caplog):
    fake.embedding_script.extend([None, Reply(503, {"error": {"message": "loading model"}})])

    with client_for(fake, batch_size=2) as client:
        vectors = client.embed_all([f"report {n}" for n in range(6)])

    assert [v is not None for v in vectors] == [True, True, False, False, False, False]
    assert len(fake.requests) == 2
    assert "HTTP 503" in caplog.text and "TF-IDF alone" in caplog.text


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(500, {"error": {"message": "boom"}}), "HTTP 500"),
        (b'{"data": [{"index": 0, "embedding": [0.1,', "not JSON"),
        (Reply(200, {"data": [{"index": 0, "embedding": [1, 0]}]}), "expected 2 vectors"),
        (Reply(200, {"object": "list"}), "expected 2 vectors"),
        (reply_with([1, 0], [1, 0, 0]), "vector 1 has 3 dimensions, vector 0 has 2"),
        (reply_with([1, 0], ["a", "b"]), "other than numbers"),
        (reply_with([1, 0], [True, False]), "other than numbers"),
        (reply_with([1, 0], [0, 0]), "zero or not finite"),
        (reply_with([1, 0], []), "not a list"),
        (Reply(200, {"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [1]}]}), "twice"),
        (Reply(200, {"data": [{"index": 0, "embedding": [1]}, {"index": 7, "embedding": [1]}]}), "index"),
    ],
)
def test_a_reply_that_is_not_one_vector_per_text_of_one_dimension_is_an_error(fake, reply, message):
    fake.embedding_script.append(reply)

    with client_for(fake) as client, pytest.raises(EmbeddingsError, match=message):
        client.embed(["first", "second"])


def test_a_reply_larger_than_the_cap_is_refused_before_it_is_parsed(fake, monkeypatch):
    monkeypatch.setattr(embeddings, "MAX_REPLY_BYTES", 1000)
    fake.embedder = lambda text: [0.5] * 500  # about 2,500 bytes of JSON

    with client_for(fake) as client, pytest.raises(EmbeddingsError, match="larger than 1000 bytes"):
        client.embed(["first"])


def test_a_slow_endpoint_times_out(fake):
    def slow(body: dict) -> Reply:
        time.sleep(1.0)
        return reply_with([1, 0])

    fake.embedding_script.append(slow)

    started = time.monotonic()
    with client_for(fake, timeout=0.2) as client, pytest.raises(EmbeddingsError, match="timeout"):
        client.embed(["first"])
    assert time.monotonic() - started < 0.9


def test_an_endpoint_that_is_down_is_a_connection_error():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # nothing listens once it is closed

    with (
        EmbeddingsClient(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=1.0) as client,
        pytest.raises(EmbeddingsError, match="connection error"),
    ):
        client.embed(["first"])


def test_the_text_embedded_is_the_title_and_the_lead_grouping_reads():
    text = "word " * 200

    embedded = embeddings.embedding_text("Council approves light-rail line", text)

    assert embedded.startswith("Council approves light-rail line\nword word")
    assert len(embedded) == len("Council approves light-rail line\n") + 399  # 400-character lead, stripped
