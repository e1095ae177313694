from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter import services
from newsletter.models import Subscriber
from tests import factories
from tests.factories import make_subscriber

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/newsletter/subscribe/"


def confirm_link(message) -> str:
    match = re.search(r"https://news\.example\.org(/newsletter/confirm/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def csrf_client():
    # Like a browser on a cached page, or a mail client: CSRF checks on, no token to send.
    return Client(enforce_csrf_checks=True)


def test_subscribing_sends_a_confirmation_and_nothing_else_until_it_is_clicked(
    csrf_client, django_capture_on_commit_callbacks
):
    topic = factories.make_topic("Climate")
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_client.post(SUBSCRIBE, {"email": "New.Reader@Example.com", "topics": ["climate"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "new.reader@example.com"
    assert subscriber.status == Subscriber.Status.PENDING
    assert list(subscriber.topics.all()) == [topic]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.reader@example.com"]

    link = confirm_link(mail.outbox[0])
    # A mail scanner following the link with GET does not confirm.
    assert csrf_client.get(link).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING

    client = Client()
    response = client.post(link)
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.confirmed_at is not None
    assert b"/newsletter/preferences/" in response.content


def test_subscribing_again_with_a_confirmed_address_changes_nothing_and_reveals_nothing(
    client, django_capture_on_commit_callbacks
):
    factories.make_topic("Sport")
    with django_capture_on_commit_callbacks(execute=True):
        fresh = client.post(SUBSCRIBE, {"email": "fresh@example.com"})
    confirmed = make_subscriber(email="known@example.com", send_hour=6)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(SUBSCRIBE, {"email": "known@example.com", "topics": ["sport"]})
    assert again.status_code == fresh.status_code == 200
    assert again.content.replace(b"known", b"fresh") == fresh.content.replace(b"known", b"fresh")
    assert mail.outbox == []
    confirmed.refresh_from_db()
    assert confirmed.status == Subscriber.Status.CONFIRMED
    assert list(confirmed.topics.all()) == []


def test_an_invalid_email_is_refused_with_a_clear_error_and_no_subscriber(client):
    response = client.post(SUBSCRIBE, {"email": "not-an-address"})
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert not Subscriber.objects.exists()


def test_a_filled_honeypot_gets_the_same_answer_but_subscribes_nobody(client):
    response = client.post(SUBSCRIBE, {"email": "bot@example.com", "website": "http://spam.example"})
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_too_many_subscribe_requests_from_one_address_are_refused(client, settings):
    settings.NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR = 2
    for n in range(2):
        assert client.post(SUBSCRIBE, {"email": f"r{n}@example.com"}).status_code == 200
    assert client.post(SUBSCRIBE, {"email": "r9@example.com"}).status_code == 429
    assert not Subscriber.objects.filter(email="r9@example.com").exists()
    # Another reader (another IP) is unaffected.
    assert client.post(SUBSCRIBE, {"email": "r8@example.com"}, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_a_spoofed_forwarded_for_header_does_not_dodge_the_limit(client, settings):
    settings.NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR = 1
    client.post(SUBSCRIBE, {"email": "a@example.com"}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    response = client.post(SUBSCRIBE, {"email": "b@example.com"}, HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert response.status_code == 429


def test_a_tampered_confirmation_token_is_refused_and_changes_nothing(client):
    subscriber = make_subscriber(status=Subscriber.Status.PENDING)
    token = services.subscriber_token(subscriber=subscriber, purpose="confirm")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.post(reverse("newsletter_confirm", args=[tampered]))
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_token_for_one_purpose_does_not_work_for_another(client):
    subscriber = make_subscriber(status=Subscriber.Status.PENDING)
    manage = services.subscriber_token(subscriber=subscriber, purpose="manage")
    assert client.post(reverse("newsletter_confirm", args=[manage])).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_token_naming_another_subscriber_is_refused(client):
    victim = make_subscriber()
    forged = signing.dumps({"s": victim.pk, "e": "000000000000"}, salt="newsletter.manage")
    assert client.post(reverse("newsletter_unsubscribe", args=[forged])).status_code == 400
    victim.refresh_from_db()
    assert victim.status == Subscriber.Status.CONFIRMED


def test_an_expired_confirmation_token_is_refused(client, settings):
    subscriber = make_subscriber(status=Subscriber.Status.PENDING)
    token = services.subscriber_token(subscriber=subscriber, purpose="confirm")
    settings.NEWSLETTER_CONFIRM_MAX_AGE_SECONDS = -1
    assert client.post(reverse("newsletter_confirm", args=[token])).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_one_click_unsubscribe_accepts_the_rfc_8058_post_without_a_csrf_token(csrf_client):
    subscriber = make_subscriber()
    _, unsubscribe_url = services.manage_urls(subscriber=subscriber)
    path = unsubscribe_url.removeprefix("https://news.example.org")
    response = csrf_client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_the_visible_unsubscribe_link_asks_before_unsubscribing(client):
    subscriber = make_subscriber()
    token = services.subscriber_token(subscriber=subscriber, purpose="manage")
    response = client.get(reverse("newsletter_unsubscribe", args=[token]))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def preferences_post(client, subscriber, **changes):
    token = services.subscriber_token(subscriber=subscriber, purpose="manage")
    data = {
        "channel": "email",
        "send_hour": 7,
        "timezone": "UTC",
        "slack_webhook_url": "",
        "line_user_id": "",
    }
    data.update(changes)
    return client.post(reverse("newsletter_preferences", args=[token]), data)


def test_preferences_save_topics_hour_timezone_and_channel(client):
    topic = factories.make_topic("Science")
    subscriber = make_subscriber()
    response = preferences_post(
        client,
        subscriber,
        channel="slack",
        slack_webhook_url="https://hooks.slack.com/services/T0001/B0001/abcDEF123",
        send_hour=6,
        timezone="Europe/Berlin",
        topics=[topic.pk],
    )
    assert response.status_code == 200, response.content
    subscriber.refresh_from_db()
    assert (subscriber.channel, subscriber.send_hour, subscriber.timezone) == ("slack", 6, "Europe/Berlin")
    assert list(subscriber.topics.all()) == [topic]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone", b"Select a valid choice"),
        ({"send_hour": 24}, "send_hour", b"less than or equal to 23"),
        ({"send_hour": -1}, "send_hour", b"greater than or equal to 0"),
        (
            {"channel": "slack", "slack_webhook_url": "https://evil.example/services/T1/B1/x"},
            "slack_webhook_url",
            b"Slack incoming-webhook URL",
        ),
        ({"channel": "line", "line_user_id": "nobody"}, "line_user_id", b"LINE user id"),
    ],
)
def test_bad_preferences_are_refused_with_a_clear_error_and_no_change(client, changes, field, message):
    subscriber = make_subscriber(send_hour=7, timezone="Asia/Tokyo")
    response = preferences_post(client, subscriber, **changes)
    assert response.status_code == 400
    assert message in response.content
    subscriber.refresh_from_db()
    assert (subscriber.channel, subscriber.send_hour, subscriber.timezone) == ("email", 7, "Asia/Tokyo")
    assert subscriber.slack_webhook_url == subscriber.line_user_id == ""


def test_line_is_not_offered_when_the_site_has_no_line_channel(client, settings):
    settings.LINE_CHANNEL_ACCESS_TOKEN = ""
    subscriber = make_subscriber()
    response = preferences_post(client, subscriber, channel="line", line_user_id="U" + "a" * 32)
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.channel == "email"


def test_saving_preferences_resumes_a_paused_subscription(client):
    subscriber = make_subscriber(status=Subscriber.Status.PAUSED, status_reason="slack: 404 no_service")
    assert preferences_post(client, subscriber).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_the_archive_page_lists_that_days_summaries(client, todays_story):
    day = todays_story.published_on_site_at.date()
    response = client.get(f"/digest/{day.isoformat()}/")
    assert response.status_code == 200
    assert todays_story.title.encode() in response.content
    assert b"The council approved a 2.4 billion dollar light-rail line" in response.content


def test_the_archive_has_no_page_for_a_future_or_impossible_date(client):
    assert client.get("/digest/2999-01-01/").status_code == 404
    assert client.get("/digest/2026-02-30/").status_code == 404


def test_the_archive_starts_on_the_day_of_the_first_published_summary(client, todays_story):
    first_day = todays_story.published_on_site_at.astimezone(dt.UTC).date()
    assert client.get(f"/digest/{first_day.isoformat()}/").status_code == 200
    day_before = first_day - dt.timedelta(days=1)
    assert client.get(f"/digest/{day_before.isoformat()}/").status_code == 404
    assert client.get("/digest/0001-01-01/").status_code == 404


def test_before_anything_is_published_only_todays_archive_page_exists(client):
    today = timezone.now().date()
    response = client.get(f"/digest/{today.isoformat()}/")
    assert response.status_code == 200
    assert b"No summaries were published that day." in response.content
    assert client.get(f"/digest/{(today - dt.timedelta(days=1)).isoformat()}/").status_code == 404


def test_the_call_to_action_form_carries_no_csrf_token_and_posts_to_subscribe(rf):
    from django.template import Context, Template

    request = rf.get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    html = Template("{% load newsletter_tags %}{% newsletter_cta %}").render(Context({"request": request}))
    assert "Summaries like this, in your inbox every morning" in html
    assert 'action="/newsletter/subscribe/"' in html
    assert "csrfmiddlewaretoken" not in html


def test_a_logged_in_reader_subscribing_their_own_address_is_linked_but_still_confirms(
    client, reader, django_capture_on_commit_callbacks
):
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SUBSCRIBE, {"email": reader.email})
    subscriber = Subscriber.objects.get()
    assert subscriber.user == reader
    assert subscriber.status == Subscriber.Status.PENDING
    assert len(mail.outbox) == 1


def test_the_call_to_action_is_prefilled_only_on_the_profile_page(rf, reader):
    from django.template import Context, Template

    request = rf.get("/accounts/profile/")
    request.user = reader
    context = Context({"request": request})
    profile = Template("{% load newsletter_tags %}{% newsletter_cta profile=True %}").render(context)
    assert f'value="{reader.email}"' in profile
    # Anywhere else the block may end up in a shared cache: no address in it.
    elsewhere = Template("{% load newsletter_tags %}{% newsletter_cta %}").render(context)
    assert reader.email not in elsewhere


def test_on_a_topic_page_the_call_to_action_offers_that_topic_ticked(rf):
    from django.template import Context, Template

    climate = factories.make_topic("Climate")
    factories.make_topic("Sport")
    html = Template("{% load newsletter_tags %}{% newsletter_cta topic %}").render(
        Context({"topic": climate})
    )
    assert 'value="climate" checked' in html
    assert 'value="sport">' in html
