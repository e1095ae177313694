from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from newsletter.models import (
    StaleSubscriber,
    Subscriber,
    validate_line_user_id,
    validate_slack_webhook_url,
    validate_timezone,
)
from tests.factories import make_subscriber


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdEFGH1234",
    ],
)
def test_a_slack_incoming_webhook_url_is_accepted(url):
    validate_slack_webhook_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdEFGH1234",
        "https://hooks.slack.com.evil.example/services/T0123ABCD/B0123ABCD/abcd",
        "https://example.com/services/T0123ABCD/B0123ABCD/abcd",
        "https://hooks.slack.com:8443/services/T0123ABCD/B0123ABCD/abcd",
        "https://hooks.slack.com/workflows/T0123ABCD/A0123/abcd",
        "https://user@hooks.slack.com/services/T0123ABCD/B0123ABCD/abcd",
        "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcd?x=1",
        "https://127.0.0.1/services/T0123ABCD/B0123ABCD/abcd",
    ],
)
def test_anything_but_a_slack_webhook_url_is_refused(url):
    with pytest.raises(ValidationError):
        validate_slack_webhook_url(url)


def test_unknown_timezones_are_refused_and_iana_names_accepted():
    validate_timezone("Asia/Tokyo")
    with pytest.raises(ValidationError):
        validate_timezone("Mars/Olympus_Mons")


def test_line_user_ids_must_look_like_line_user_ids():
    validate_line_user_id("U" + "0123456789abcdef" * 2)
    with pytest.raises(ValidationError):
        validate_line_user_id("someone@example.com")


def test_a_send_hour_outside_0_to_23_does_not_validate(db):
    subscriber = make_subscriber()
    subscriber.send_hour = 24
    with pytest.raises(ValidationError) as info:
        subscriber.full_clean()
    assert "send_hour" in info.value.message_dict


def test_slack_delivery_without_a_webhook_does_not_validate(db):
    subscriber = make_subscriber(channel="slack")
    with pytest.raises(ValidationError) as info:
        subscriber.full_clean()
    assert "slack_webhook_url" in info.value.message_dict


def test_a_status_change_from_a_stale_copy_writes_nothing(db):
    subscriber = make_subscriber(status=Subscriber.Status.CONFIRMED)
    stale = Subscriber.objects.get(pk=subscriber.pk)
    subscriber.transition_to(Subscriber.Status.UNSUBSCRIBED, reason="by link")
    with pytest.raises(StaleSubscriber):
        stale.transition_to(Subscriber.Status.PAUSED, reason="slack: 404")
    assert stale.status == Subscriber.Status.CONFIRMED  # unchanged in memory too
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.status_reason) == (Subscriber.Status.UNSUBSCRIBED, "by link")


def test_nothing_but_a_new_opt_in_leaves_unsubscribed(db):
    subscriber = make_subscriber(status=Subscriber.Status.UNSUBSCRIBED)
    for status in (Subscriber.Status.CONFIRMED, Subscriber.Status.PAUSED):
        with pytest.raises(ValueError, match="cannot go from"):
            subscriber.transition_to(status)
    subscriber.transition_to(Subscriber.Status.PENDING)
    assert Subscriber.objects.get(pk=subscriber.pk).status == Subscriber.Status.PENDING
