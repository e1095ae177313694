"""A subscriber's status on PostgreSQL while two requests or workers change it: the reader's
"stop" always wins. Each side reads the row on its own connection before either writes;
where the old lost update needed one order, the test pins that order (the unsubscribe
commits first, then the side holding the stale copy writes)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter import services, views
from newsletter.forms import PreferencesForm
from newsletter.models import Delivery, Subscriber
from tests import factories
from tests.fakes.slack_server import FakeSlack
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]


class Schedule:
    """Both sides have read; the unsubscribe commits; then the other side writes."""

    def __init__(self) -> None:
        self.all_read = threading.Barrier(2)
        self.unsubscribed = threading.Event()

    def hold_unsubscribe(self, monkeypatch) -> None:
        real = services.subscriber_unsubscribe

        def unsubscribe(**kwargs: Any) -> bool:
            self.all_read.wait(10)
            try:
                return real(**kwargs)
            finally:
                self.unsubscribed.set()

        monkeypatch.setattr(services, "subscriber_unsubscribe", unsubscribe)

    def then_write(self) -> None:
        self.all_read.wait(10)
        self.unsubscribed.wait(10)


def one_click_unsubscribe(subscriber: Subscriber):
    _, url = services.manage_urls(subscriber=subscriber)
    path = url.removeprefix("https://news.example.org")
    return lambda: Client(enforce_csrf_checks=True).post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )


@pytest.mark.parametrize("status", [Subscriber.Status.CONFIRMED, Subscriber.Status.PAUSED])
def test_a_one_click_unsubscribe_racing_a_preferences_save_stays_unsubscribed(monkeypatch, status):
    subscriber = factories.make_subscriber(status=status, send_hour=7)
    schedule = Schedule()
    schedule.hold_unsubscribe(monkeypatch)

    class StalePreferencesForm(PreferencesForm):
        def save(self, commit: bool = True) -> Subscriber:
            schedule.then_write()  # the view read the subscriber before the unsubscribe
            return super().save(commit)

    monkeypatch.setattr(views, "PreferencesForm", StalePreferencesForm)
    token = services.subscriber_token(subscriber=subscriber, purpose="manage")
    data = {
        "channel": "email",
        "send_hour": 9,
        "timezone": "UTC",
        "slack_webhook_url": "",
        "line_user_id": "",
    }

    saved, unsubscribed = race(
        lambda: Client().post(reverse("newsletter_preferences", args=[token]), data),
        one_click_unsubscribe(subscriber),
    )

    assert (saved.status_code, unsubscribed.status_code) == (200, 200)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.send_hour == 9  # the preferences themselves were saved


def test_a_confirmation_click_racing_an_unsubscribe_does_not_subscribe_again(monkeypatch):
    subscriber = factories.make_subscriber(status=Subscriber.Status.PENDING)
    schedule = Schedule()
    schedule.hold_unsubscribe(monkeypatch)
    real_from_token = services.subscriber_from_token

    def from_token(*, token: str, purpose: str) -> Subscriber:
        found = real_from_token(token=token, purpose=purpose)
        if purpose == "confirm":
            schedule.then_write()  # subscriber_confirm has read it as pending
        return found

    monkeypatch.setattr(services, "subscriber_from_token", from_token)
    token = services.subscriber_token(subscriber=subscriber, purpose="confirm")

    confirmed, unsubscribed = race(
        lambda: Client().post(reverse("newsletter_confirm", args=[token])),
        one_click_unsubscribe(subscriber),
    )

    assert (confirmed.status_code, unsubscribed.status_code) == (400, 200)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED and subscriber.confirmed_at is None


def test_a_revoked_webhook_answering_after_an_unsubscribe_does_not_pause_the_subscriber():
    factories.publish(title="Council approves the light-rail line")
    with FakeSlack() as slack:
        url = slack.webhook_url()
        slack.statuses[url.removeprefix(slack.base_url)] = (404, "no_service")
        slack.slow_seconds = 1.0
        subscriber = factories.make_subscriber(channel="slack", slack_webhook_url=url)

        def unsubscribe_while_sending() -> bool:
            row = Subscriber.objects.get(pk=subscriber.pk)
            deadline = time.monotonic() + 10
            while not slack.requests:  # the sender has read the subscriber and is posting
                assert time.monotonic() < deadline, "the digest was never sent"
                time.sleep(0.01)
            return services.subscriber_unsubscribe(subscriber=row, reason="unsubscribed by link")

        report, unsubscribed = race(
            lambda: services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date()),
            unsubscribe_while_sending,
        )

    assert unsubscribed is True and report.failed == {"slack": 1}, (report, unsubscribed)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.status_reason == "unsubscribed by link"
    assert Delivery.objects.get().status == Delivery.Status.FAILED
