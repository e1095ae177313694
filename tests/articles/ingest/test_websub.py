"""WebSub in (articles/ingest/websub.py) against a loopback hub speaking the W3C protocol, with
our callback on a live server: discovery by a poll, the subscription request, the hub's
verification (challenge), signed pushes stored through the poll's path, denial, lease renewal
by the beat, and the slower safety-net polling."""

from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import escape

import pytest
from django.utils import timezone

from articles.ingest import polling, websub
from articles.ingest import tasks as ingest_tasks
from articles.models import Article, Source, WebSubSubscription
from tests import factories
from tests.fakes.feed_server import Route, rss


def atom(*, hub: str, self_url: str, entries: list[tuple[str, str]]) -> bytes:
    """An Atom feed naming its hub and itself, entries as (title, link)."""
    body = "".join(
        f"<entry><title>{escape(title)}</title><link href='{escape(link)}'/><id>{escape(link)}</id>"
        f"<updated>2026-11-24T1{i}:00:00Z</updated><summary>Summary of {escape(title)}.</summary></entry>"
        for i, (title, link) in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Hubbed</title><id>{escape(self_url)}</id><updated>2026-11-24T10:00:00Z</updated>"
        f'<link rel="hub" href="{escape(hub)}"/><link rel="self" href="{escape(self_url)}"/>{body}</feed>'
    ).encode()


def hubbed_source(feed_server, hub, entries: list[tuple[str, str]] | None = None) -> Source:
    """A source whose feed names `hub`, polled once (so its subscription is recorded)."""
    feed_url = feed_server.url("/feed")
    entries = entries if entries is not None else [("First", feed_server.url("/a/1"))]
    feed_server.routes["/feed"] = Route(
        body=atom(hub=hub.url, self_url=feed_url, entries=entries), content_type="application/atom+xml"
    )
    source = factories.make_source(feed_url=feed_url)
    assert polling.source_poll(source=source).outcome == "ok"
    return source


@pytest.fixture
def callback_site(live_server, settings, eager_celery):
    """Our site on a live server: the hub reaches the callback at SITE_URL over real HTTP."""
    settings.SITE_URL = live_server.url
    return live_server


def subscribe(source: Source, hub) -> WebSubSubscription:
    """Beat → subscription request → hub verifies through the live callback."""
    assert ingest_tasks.websub_subscriptions() == 1
    response = hub.verify()
    assert response.status_code == 200
    return WebSubSubscription.objects.get(source=source)


# --- Discovery and the request ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_poll_of_a_feed_naming_a_hub_records_a_subscription_due_now(feed_server, websub_hub):
    source = hubbed_source(feed_server, websub_hub)
    subscription = WebSubSubscription.objects.get(source=source)
    assert (subscription.hub_url, subscription.topic_url) == (websub_hub.url, feed_server.url("/feed"))
    assert subscription.next_request_at <= timezone.now() and not subscription.is_live()
    assert len(subscription.token) >= 40 and len(subscription.secret) >= 40
    assert subscription.token != subscription.secret


@pytest.mark.django_db
def test_a_feed_without_a_hub_gets_no_subscription_and_one_that_drops_its_hub_loses_it(
    feed_server, websub_hub
):
    plain = factories.make_source(feed_url=feed_server.url("/plain"))
    feed_server.routes["/plain"] = Route(body=rss([("Story", "https://news.example.org/1")]))
    polling.source_poll(source=plain)
    assert not WebSubSubscription.objects.filter(source=plain).exists()

    source = hubbed_source(feed_server, websub_hub)
    feed_server.routes["/feed"] = Route(body=rss([("Story", "https://news.example.org/2")]))
    polling.source_poll(source=source)
    assert not WebSubSubscription.objects.filter(source=source).exists()


@pytest.mark.django_db
def test_a_new_hub_gets_a_new_token_and_secret_and_an_unchanged_one_keeps_them(feed_server, websub_hub):
    source = hubbed_source(feed_server, websub_hub)
    first = WebSubSubscription.objects.get(source=source)
    polling.source_poll(source=source)
    assert WebSubSubscription.objects.get(source=source).token == first.token
    feed_server.routes["/feed"] = Route(
        body=atom(hub="https://hub.example.net/", self_url=source.feed_url, entries=[]),
        content_type="application/atom+xml",
    )
    polling.source_poll(source=source)
    moved = WebSubSubscription.objects.get(source=source)
    assert moved.hub_url == "https://hub.example.net/"
    assert (moved.token, moved.secret) != (first.token, first.secret)


@pytest.mark.django_db
def test_the_beat_sends_one_subscription_request_with_callback_secret_and_lease(
    feed_server, websub_hub, settings, eager_celery
):
    settings.SITE_URL = "https://news.example.com"
    source = hubbed_source(feed_server, websub_hub)
    subscription = WebSubSubscription.objects.get(source=source)
    assert ingest_tasks.websub_subscriptions() == 1
    assert ingest_tasks.websub_subscriptions() == 0  # claimed: an overlapping beat sends nothing
    [request] = websub_hub.requests
    assert request.mode == "subscribe" and request.topic == source.feed_url
    assert request.callback == f"https://news.example.com/websub/{subscription.token}/"
    assert request.secret == subscription.secret
    assert request.lease_seconds == str(settings.WEBSUB_LEASE_SECONDS)
    assert request.headers["user-agent"].startswith("NewsroomBot/")
    subscription.refresh_from_db()
    assert subscription.requested_mode == "subscribe"
    assert subscription.next_request_at > timezone.now() + timedelta(
        minutes=50
    )  # asked again if never verified


@pytest.mark.django_db
def test_a_hub_that_refuses_the_request_is_asked_again_after_a_back_off(
    feed_server, websub_hub, eager_celery
):
    source = hubbed_source(feed_server, websub_hub)
    websub_hub.fail_next = [503]
    assert ingest_tasks.websub_subscriptions() == 1
    subscription = WebSubSubscription.objects.get(source=source)
    assert subscription.failures == 1 and "503" in subscription.last_error
    assert subscription.next_request_at > timezone.now() + timedelta(minutes=4)
    assert ingest_tasks.websub_subscriptions() == 0


@pytest.mark.django_db
def test_a_paused_source_sends_no_request(feed_server, websub_hub):
    source = hubbed_source(feed_server, websub_hub)
    Source.objects.filter(pk=source.pk).update(paused_at=timezone.now())
    assert ingest_tasks.websub_subscriptions() == 0
    assert websub_hub.requests == []


# --- Verification, pushes and renewal over real HTTP --------------------------------------------


def test_subscribe_verify_and_a_signed_push_round_trip_through_the_polls_path(
    feed_server, websub_hub, callback_site
):
    source = hubbed_source(feed_server, websub_hub)
    subscription = subscribe(source, websub_hub)
    assert subscription.is_live() and subscription.requested_mode == ""
    assert subscription.lease_seconds == 604800
    assert websub_hub.subscribers  # the hub saw its challenge echoed

    pushed = atom(
        hub=websub_hub.url,
        self_url=source.feed_url,
        entries=[("First", feed_server.url("/a/1")), ("Second", feed_server.url("/a/2"))],
    )
    [response] = websub_hub.distribute(source.feed_url, pushed)
    assert response.status_code == 202
    # The entry the poll stored is a duplicate; the new one is stored and sent to extraction.
    assert sorted(Article.objects.filter(source=source).values_list("title", flat=True)) == [
        "First",
        "Second",
    ]
    second = Article.objects.get(title="Second")
    assert second.status != Article.Status.NEW and "Summary of Second" in second.extracted_text
    subscription.refresh_from_db()
    assert subscription.last_push_at is not None


def test_the_callback_echoes_a_challenge_only_for_the_request_we_made(feed_server, websub_hub, callback_site):
    source = hubbed_source(feed_server, websub_hub)
    assert ingest_tasks.websub_subscriptions() == 1
    assert websub_hub.verify(topic="https://elsewhere.example/feed").status_code == 404
    assert websub_hub.verify(mode="unsubscribe").status_code == 404
    assert not WebSubSubscription.objects.get(source=source).is_live()
    assert websub_hub.verify().status_code == 200
    # Verified: a second verification of the same request is nothing we asked for.
    again = websub_hub.verify()
    assert again.status_code == 404 and again.text != websub_hub.requests[-1].topic


def test_a_hub_denial_ends_the_lease_and_asks_again_a_day_later(feed_server, websub_hub, callback_site):
    source = hubbed_source(feed_server, websub_hub)
    subscription = subscribe(source, websub_hub)
    assert websub_hub.deny(reason="publisher said no").status_code == 200
    subscription.refresh_from_db()
    assert not subscription.is_live() and "publisher said no" in subscription.last_error
    assert subscription.next_request_at > timezone.now() + timedelta(hours=23)
    # Pushes for a denied subscription are refused.
    [response] = websub_hub.distribute(source.feed_url, atom(hub="", self_url=source.feed_url, entries=[]))
    assert response.status_code == 404


def test_the_beat_renews_a_lease_a_fifth_before_it_ends(feed_server, websub_hub, callback_site):
    source = hubbed_source(feed_server, websub_hub)
    subscription = subscribe(source, websub_hub)
    lease = timedelta(seconds=subscription.lease_seconds)
    assert subscription.next_request_at - subscription.verified_at == lease * 4 / 5
    assert ingest_tasks.websub_subscriptions() == 0  # not yet due

    # Four fifths of the lease later:
    WebSubSubscription.objects.filter(pk=subscription.pk).update(next_request_at=timezone.now())
    assert ingest_tasks.websub_subscriptions() == 1
    assert len(websub_hub.requests) == 2
    renewal = websub_hub.requests[-1]
    assert (renewal.mode, renewal.callback) == ("subscribe", websub_hub.requests[0].callback)
    assert WebSubSubscription.objects.get(pk=subscription.pk).is_live()  # the old lease runs meanwhile
    assert websub_hub.verify(lease_seconds="7200").status_code == 200
    subscription.refresh_from_db()
    assert subscription.lease_seconds == 7200
    assert timedelta(seconds=7190) < subscription.expires_at - timezone.now() <= timedelta(seconds=7200)


def test_a_live_subscription_slows_polling_to_the_safety_net(
    feed_server, websub_hub, callback_site, settings
):
    settings.WEBSUB_SAFETY_POLL_SECONDS = 6 * 3600
    source = hubbed_source(feed_server, websub_hub)
    before = Source.objects.get(pk=source.pk).next_poll_at
    assert before < timezone.now() + timedelta(hours=2)  # the feed's own pace until subscribed
    subscribe(source, websub_hub)
    polling.source_poll(source=Source.objects.get(pk=source.pk))
    assert Source.objects.get(pk=source.pk).next_poll_at >= timezone.now() + timedelta(hours=5, minutes=59)


def test_a_push_for_a_paused_source_stores_nothing(feed_server, websub_hub, callback_site):
    source = hubbed_source(feed_server, websub_hub)
    subscribe(source, websub_hub)
    Source.objects.filter(pk=source.pk).update(paused_at=timezone.now())
    pushed = atom(hub=websub_hub.url, self_url=source.feed_url, entries=[("Later", feed_server.url("/a/9"))])
    [response] = websub_hub.distribute(source.feed_url, pushed)
    assert response.status_code == 202
    assert not Article.objects.filter(title="Later").exists()


# --- Pure rules -------------------------------------------------------------------------------


def test_renewal_comes_a_fifth_of_the_lease_early_and_retries_back_off_to_a_day(settings):
    settings.SOURCE_MIN_POLL_SECONDS = 300
    assert websub.renewal_delay(864000) == 691200
    assert [websub.retry_delay(n) for n in (1, 2, 3)] == [300, 600, 1200]
    assert websub.retry_delay(30) == 24 * 3600
