"""The preferences form writes only the preference columns: a copy of the subscriber read
when the page loaded cannot undo an unsubscribe or a pause made since."""

from __future__ import annotations

import pytest

from newsletter import services
from newsletter.forms import PreferencesForm
from newsletter.models import Subscriber
from tests import factories

pytestmark = pytest.mark.django_db

DATA = {
    "channel": "email",
    "send_hour": 9,
    "timezone": "Europe/Berlin",
    "slack_webhook_url": "",
    "line_user_id": "",
}


@pytest.mark.parametrize("status", [Subscriber.Status.CONFIRMED, Subscriber.Status.PAUSED])
def test_saving_preferences_from_a_stale_copy_leaves_an_unsubscribe_in_place(status):
    subscriber = factories.make_subscriber(status=status)
    stale = Subscriber.objects.get(pk=subscriber.pk)  # the preferences page loaded this
    services.subscriber_unsubscribe(subscriber=subscriber, reason="unsubscribed by link")

    form = PreferencesForm(DATA, instance=stale)
    assert form.is_valid(), form.errors
    form.save()
    services.subscriber_resume(subscriber=stale)  # what the view does after saving

    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.status_reason) == (
        Subscriber.Status.UNSUBSCRIBED,
        "unsubscribed by link",
    )
    assert (subscriber.send_hour, subscriber.timezone) == (9, "Europe/Berlin")


def test_saving_preferences_writes_the_topics_too():
    topic = factories.make_topic("Science")
    subscriber = factories.make_subscriber()
    form = PreferencesForm({**DATA, "topics": [topic.pk]}, instance=subscriber)
    assert form.is_valid(), form.errors
    form.save()
    assert list(Subscriber.objects.get(pk=subscriber.pk).topics.all()) == [topic]
