"""The WebSub callback (articles/ingest/views.py), the one public ingest endpoint: pushes come from
the loopback hub over real HTTP; what must be refused is refused and stores nothing."""

from __future__ import annotations

import hashlib
import hmac
import io

import httpx
import pytest
from django.test import RequestFactory
from django.utils import timezone

from articles.ingest.views import websub_callback
from articles.models import Article, WebSubSubscription
from tests import factories
from tests.articles.ingest.test_websub import atom, hubbed_source, subscribe


@pytest.fixture
def live_subscription(feed_server, websub_hub, live_server, settings, eager_celery):
    """A source subscribed through the hub, our callback on a live server."""
    settings.SITE_URL = live_server.url
    source = hubbed_source(feed_server, websub_hub)
    return subscribe(source, websub_hub)


def pushed(feed_server, websub_hub, subscription: WebSubSubscription, title: str = "Pushed") -> bytes:
    return atom(
        hub=websub_hub.url, self_url=subscription.topic_url, entries=[(title, feed_server.url("/a/pushed"))]
    )


def test_a_push_with_a_wrong_signature_is_refused_and_stores_nothing(
    feed_server, websub_hub, live_subscription
):
    body = pushed(feed_server, websub_hub, live_subscription)
    wrong = "sha256=" + hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    [response] = websub_hub.distribute(live_subscription.topic_url, body, signature=wrong)
    assert response.status_code == 403
    assert not Article.objects.filter(title="Pushed").exists()


def test_a_push_without_a_signature_is_refused_and_stores_nothing(feed_server, websub_hub, live_subscription):
    [response] = websub_hub.distribute(
        live_subscription.topic_url, pushed(feed_server, websub_hub, live_subscription), signature=""
    )
    assert response.status_code == 403
    assert not Article.objects.filter(title="Pushed").exists()


def test_a_push_signed_with_sha1_is_taken(feed_server, websub_hub, live_subscription):
    body = pushed(feed_server, websub_hub, live_subscription)
    sha1 = "sha1=" + hmac.new(live_subscription.secret.encode(), body, hashlib.sha1).hexdigest()
    [response] = websub_hub.distribute(live_subscription.topic_url, body, signature=sha1)
    assert response.status_code == 202
    assert Article.objects.filter(title="Pushed").exists()


def test_a_push_over_the_size_cap_is_refused_with_413(feed_server, websub_hub, live_subscription, settings):
    settings.WEBSUB_MAX_BODY_BYTES = 4000
    entries = [(f"Story {i} " + "x" * 100, feed_server.url(f"/a/{i}")) for i in range(40)]
    body = atom(hub=websub_hub.url, self_url=live_subscription.topic_url, entries=entries)
    assert len(body) > 4000
    [response] = websub_hub.distribute(live_subscription.topic_url, body)
    assert response.status_code == 413
    assert not Article.objects.filter(title__startswith="Story ").exists()


def test_a_push_to_an_unknown_token_is_refused(live_subscription, live_server):
    response = httpx.post(f"{live_server.url}/websub/not-a-token/", content=b"<feed/>", timeout=10)
    assert response.status_code == 404


def test_a_push_naming_another_topic_is_refused(feed_server, websub_hub, live_subscription):
    body = pushed(feed_server, websub_hub, live_subscription)
    [response] = websub_hub.distribute(
        live_subscription.topic_url, body, headers={"Link": '<https://elsewhere.example/feed>; rel="self"'}
    )
    assert response.status_code == 404
    assert not Article.objects.filter(title="Pushed").exists()


def test_a_signed_push_that_is_not_a_feed_is_answered_400(websub_hub, live_subscription):
    [response] = websub_hub.distribute(live_subscription.topic_url, b"<html>no feed here</html>")
    assert response.status_code == 400


# --- The cap without the network: what the view reads ------------------------------------------


class CountingStream(io.BytesIO):
    """A request body that counts the bytes the view reads from it."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data


@pytest.fixture
def verified(db):
    return WebSubSubscription.objects.create(
        source=factories.make_source(),
        hub_url="https://hub.example.net/",
        topic_url="https://source.example.com/feed",
        token="t" * 43,
        secret="s" * 43,
        expires_at=timezone.now() + timezone.timedelta(days=1),
    )


def push_request(body: bytes, *, content_length: str) -> tuple:
    request = RequestFactory().post(
        "/websub/" + "t" * 43 + "/", data=b"", content_type="application/atom+xml"
    )
    stream = CountingStream(body)
    request._stream = stream
    request.META["CONTENT_LENGTH"] = content_length
    return request, stream


def test_a_declared_length_over_the_cap_is_refused_unread(verified, settings):
    settings.WEBSUB_MAX_BODY_BYTES = 1000
    request, stream = push_request(b"x" * 5000, content_length="5000")
    assert websub_callback(request, token=verified.token).status_code == 413
    assert stream.consumed == 0


def test_a_body_of_unknown_length_is_read_only_one_byte_past_the_cap(verified, settings):
    settings.WEBSUB_MAX_BODY_BYTES = 1000
    request, stream = push_request(b"x" * 50_000, content_length="")
    assert websub_callback(request, token=verified.token).status_code == 413
    assert stream.consumed == 1001


def test_an_unknown_token_is_refused_before_the_body_is_read(verified):
    request, stream = push_request(b"x" * 100, content_length="100")
    assert websub_callback(request, token="unknown").status_code == 404
    assert stream.consumed == 0


def test_the_callback_is_never_cached(verified, client):
    response = client.get(f"/websub/{verified.token}/", {"hub.mode": "subscribe"})
    assert response.status_code == 404
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
