from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from newsletter import services
from newsletter.models import Delivery
from tests import factories
from tests.factories import make_subscriber, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):
    admin = factories.make_user(email="admin@example.com", staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_subscribers_can_be_searched_and_filtered_by_channel_and_status(desk):
    make_subscriber(email="alice@example.com", channel="email")
    make_subscriber(email="bob@example.com", status="paused")
    response = desk.get("/admin/newsletter/subscriber/", {"q": "alice"})
    assert b"alice@example.com" in response.content and b"bob@example.com" not in response.content
    response = desk.get("/admin/newsletter/subscriber/", {"status__exact": "paused"})
    assert b"bob@example.com" in response.content and b"alice@example.com" not in response.content
    response = desk.get("/admin/newsletter/subscriber/", {"channel__exact": "slack"})
    assert b"alice@example.com" not in response.content


def test_the_digest_preview_shows_any_days_stories(desk, todays_story):
    day = todays_story.published_on_site_at.date()
    response = desk.get("/admin/newsletter/subscriber/preview/", {"date": day.isoformat()})
    assert response.status_code == 200
    assert todays_story.title.encode() in response.content
    empty = desk.get("/admin/newsletter/subscriber/preview/", {"date": "2020-01-01"})
    assert b"0 stories" in empty.content


def test_send_me_a_test_emails_the_logged_in_staff_member_without_recording_a_delivery(desk, todays_story):
    day = todays_story.published_on_site_at.date().isoformat()
    response = desk.post("/admin/newsletter/subscriber/send-test/", {"date": day})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["admin@example.com"]
    assert todays_story.title in message.body
    assert not Delivery.objects.exists()


def test_readers_cannot_reach_the_preview(client, reader):
    client.force_login(reader)
    assert client.get("/admin/newsletter/subscriber/preview/").status_code == 302


def test_the_delivery_list_counts_per_day_and_shows_failure_reasons(desk):
    today = timezone.now().date()
    for status, error in [("sent", ""), ("sent", ""), ("failed", "hard: Slack 404: no_service")]:
        Delivery.objects.create(
            subscriber=make_subscriber(),
            digest_date=today,
            channel="email",
            status=status,
            error=error,
            claim_token="00000000-0000-0000-0000-000000000000",
        )
    Delivery.objects.create(
        subscriber=make_subscriber(),
        digest_date=today - dt.timedelta(days=1),
        channel="email",
        status="claimed",
        claim_token="00000000-0000-0000-0000-000000000000",
    )
    response = desk.get("/admin/newsletter/delivery/")
    assert response.status_code == 200
    rows = {row["digest_date"]: row for row in response.context["per_day"]}
    assert (rows[today]["sent"], rows[today]["failed"], rows[today]["claimed"]) == (2, 1, 0)
    assert rows[today - dt.timedelta(days=1)]["claimed"] == 1
    failed = desk.get("/admin/newsletter/delivery/", {"status__exact": "failed"})
    assert b"no_service" in failed.content


def test_the_preview_page_lets_the_emails_inline_styles_show(desk):
    response = desk.get("/admin/newsletter/subscriber/preview/")
    assert "'unsafe-inline'" in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in desk.get("/admin/newsletter/delivery/")["Content-Security-Policy"]


def test_send_me_a_test_only_answers_a_post(desk):
    assert desk.get("/admin/newsletter/subscriber/send-test/").status_code == 405
    assert mail.outbox == []


def test_the_pause_and_resume_actions_change_only_subscriptions_in_the_right_status(desk):
    confirmed = make_subscriber(status="confirmed")
    gone = make_subscriber(status="unsubscribed")
    url = "/admin/newsletter/subscriber/"
    desk.post(url, {"action": "pause", "_selected_action": [confirmed.pk, gone.pk]})
    confirmed.refresh_from_db()
    gone.refresh_from_db()
    assert (confirmed.status, gone.status) == ("paused", "unsubscribed")
    assert confirmed.status_reason == "paused by admin@example.com"
    desk.post(url, {"action": "resume", "_selected_action": [confirmed.pk, gone.pk]})
    confirmed.refresh_from_db()
    gone.refresh_from_db()
    assert (confirmed.status, gone.status) == ("confirmed", "unsubscribed")


def test_the_change_form_cannot_subscribe_an_unsubscribed_reader_again(desk):
    subscriber = make_subscriber(status="unsubscribed", email="gone@example.com")
    response = desk.post(
        f"/admin/newsletter/subscriber/{subscriber.pk}/change/",
        {
            "email": "gone@example.com",
            "channel": "email",
            "slack_webhook_url": "",
            "line_user_id": "",
            "send_hour": 8,
            "timezone": "UTC",
            "status": "confirmed",
            "status_reason": "",
        },
    )
    assert response.status_code == 302, response.content
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.send_hour) == ("unsubscribed", 8)


def test_a_sent_delivery_shows_the_stories_it_carried_even_one_deleted_since(
    desk, django_assert_max_num_queries
):
    publish(title="Council approves the light-rail line")
    merged_away = publish(title="Light rail gets the go-ahead").story
    subscriber = make_subscriber()
    services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
    merged_away.delete()
    delivery = Delivery.objects.get()

    with django_assert_max_num_queries(12):
        response = desk.get(f"/admin/newsletter/delivery/{delivery.pk}/change/")

    html = response.content.decode()
    assert "Council approves the light-rail line" in html
    assert "(deleted)" in html
