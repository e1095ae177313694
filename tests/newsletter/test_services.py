from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter import services
from newsletter.channels import EmailChannel
from newsletter.models import Delivery, Subscriber
from tests import factories
from tests.factories import make_subscriber, publish
from tests.fakes.line_server import FakeLine
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.django_db

UTC = dt.UTC
LINE_USER = "U" + "0123456789abcdef" * 2


def run_beat(now: dt.datetime) -> None:
    """What the beat and its chunk tasks do at `now`, run in-process."""
    for day, ids in services.due_subscribers(now=now).items():
        services.digest_deliver_chunk(subscriber_ids=ids, day=day, now=now)


def test_a_subscriber_is_due_once_their_local_send_hour_has_come():
    tokyo = make_subscriber(timezone="Asia/Tokyo", send_hour=7)
    before = dt.datetime(2026, 6, 1, 21, 45, tzinfo=UTC)  # 06:45 on 2 June in Tokyo
    at = dt.datetime(2026, 6, 1, 22, 0, tzinfo=UTC)  # 07:00 on 2 June in Tokyo
    assert services.due_subscribers(now=before) == {}
    assert services.due_subscribers(now=at) == {dt.date(2026, 6, 2): [tokyo.pk]}


def test_pending_paused_and_unsubscribed_addresses_are_never_due():
    for status in ("pending", "paused", "unsubscribed"):
        make_subscriber(status=status, send_hour=0)
    assert services.due_subscribers(now=timezone.now()) == {}


def deliveries_over(subscriber: Subscriber, start: dt.datetime, hours: int) -> list[Delivery]:
    now = start
    while now < start + dt.timedelta(hours=hours):
        run_beat(now)
        now += dt.timedelta(minutes=15)
    return list(Delivery.objects.filter(subscriber=subscriber).order_by("digest_date"))


def test_when_dst_skips_the_send_hour_the_digest_still_goes_out_once_that_day():
    # New York springs forward on 8 March 2026: 02:00 local never happens.
    subscriber = make_subscriber(timezone="America/New_York", send_hour=2)
    rows = deliveries_over(subscriber, dt.datetime(2026, 3, 7, 5, 0, tzinfo=UTC), hours=72)
    assert [r.digest_date for r in rows] == [dt.date(2026, 3, 7), dt.date(2026, 3, 8), dt.date(2026, 3, 9)]
    skipped_day = rows[1]
    # Sent at the first beat after the gap: 03:00 EDT = 07:00 UTC.
    assert skipped_day.claimed_at == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_when_dst_repeats_the_send_hour_the_digest_goes_out_only_once():
    # New York falls back on 1 November 2026: 01:00-02:00 local happens twice.
    subscriber = make_subscriber(timezone="America/New_York", send_hour=1)
    rows = deliveries_over(subscriber, dt.datetime(2026, 10, 31, 4, 0, tzinfo=UTC), hours=72)
    assert [r.digest_date for r in rows] == [
        dt.date(2026, 10, 31),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 2),
    ]
    # The first 01:00 (EDT, 05:00 UTC) sends; the second (EST, 06:00 UTC) finds the row.
    assert rows[1].claimed_at == dt.datetime(2026, 11, 1, 5, 0, tzinfo=UTC)


def test_a_half_hour_zone_gets_its_digest_on_its_own_local_date():
    subscriber = make_subscriber(timezone="Asia/Kolkata", send_hour=0)  # UTC+05:30
    run_beat(dt.datetime(2026, 6, 1, 18, 30, tzinfo=UTC))  # 00:00 on 2 June in Kolkata
    assert Delivery.objects.get(subscriber=subscriber).digest_date == dt.date(2026, 6, 2)


def test_two_overlapping_beat_runs_send_each_subscriber_one_digest(todays_story):
    subscribers = [make_subscriber(send_hour=0) for _ in range(5)]
    now = timezone.now()
    first = services.due_subscribers(now=now)
    second = services.due_subscribers(now=now)  # runs before the first one has sent anything
    assert first == second
    ((day, ids),) = first.items()
    a = services.digest_deliver_chunk(subscriber_ids=ids, day=day, now=now)
    b = services.digest_deliver_chunk(subscriber_ids=ids, day=day, now=now)
    assert sum(a.sent.values()) == 5
    assert sum(b.sent.values()) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in subscribers)
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 5


def crash_after_sending(monkeypatch) -> None:
    """The worker dies after the hand-off, before anything is marked."""

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_mark", killed)


def test_an_exception_mid_chunk_marks_what_was_sent_and_releases_what_was_not_tried(
    monkeypatch, todays_story
):
    first, second, third = (make_subscriber() for _ in range(3))
    real_send = EmailChannel.send

    def send(self, *, message, recipient):
        if recipient.email == second.email:
            raise RuntimeError("soft time limit")
        return real_send(self, message=message, recipient=recipient)

    monkeypatch.setattr(EmailChannel, "send", send)
    with pytest.raises(RuntimeError):
        services.digest_deliver_chunk(
            subscriber_ids=[first.pk, second.pk, third.pk], day=timezone.now().date()
        )
    status = dict(Delivery.objects.values_list("subscriber__email", "status"))
    assert status == {first.email: "sent", second.email: "claimed"}  # third released for the next run


def test_a_temporary_failure_is_retried_with_growing_backoff_and_the_same_retry_key(settings, todays_story):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.fail_next = [500, 503]
        subscriber = make_subscriber(channel="line", line_user_id=LINE_USER)
        now = timezone.now()
        report = services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=now.date(), now=now)
        assert report.failed == {"line": 1}
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        assert delivery.next_retry_at == now + dt.timedelta(seconds=900)

        assert not services.delivery_retry(delivery_id=delivery.pk, now=now + dt.timedelta(seconds=60)).failed
        assert len(line.requests) == 1  # not due yet

        later = now + dt.timedelta(seconds=901)
        services.delivery_retry(delivery_id=delivery.pk, now=later)
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_retry_at == later + dt.timedelta(seconds=1800)

        last = later + dt.timedelta(seconds=1801)
        assert services.delivery_retry(delivery_id=delivery.pk, now=last).sent == {"line": 1}
        delivery.refresh_from_db()
        assert delivery.status == "sent"
        assert {r["headers"]["X-Line-Retry-Key"] for r in line.requests} == {str(delivery.retry_key)}
        assert len(line.accepted) == 1
        subscriber.refresh_from_db()
        assert subscriber.status == "confirmed"


def test_a_revoked_slack_webhook_pauses_the_subscription(settings, todays_story):
    with FakeSlack() as slack:
        url = slack.webhook_url()
        slack.statuses[url.removeprefix(slack.base_url)] = (404, "no_service")
        subscriber = make_subscriber(channel="slack", slack_webhook_url=url)
        services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.next_retry_at is None
    assert "no_service" in delivery.error
    subscriber.refresh_from_db()
    assert subscriber.status == "paused"
    assert "404" in subscriber.status_reason


def test_a_line_user_who_is_unknown_or_blocked_pauses_the_subscription(settings, todays_story):
    with FakeLine() as line:
        settings.LINE_API_BASE_URL = line.base_url
        line.user_status[LINE_USER] = 400
        subscriber = make_subscriber(channel="line", line_user_id=LINE_USER)
        services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
    subscriber.refresh_from_db()
    assert subscriber.status == "paused"


def test_a_slack_post_that_times_out_is_not_retried_because_it_may_have_arrived(settings, todays_story):
    settings.NEWSLETTER_HTTP_TIMEOUT_SECONDS = 0.3
    with FakeSlack() as slack:
        slack.slow_seconds = 1.0
        subscriber = make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())
        services.digest_deliver_chunk(subscriber_ids=[subscriber.pk], day=timezone.now().date())
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.next_retry_at is None
    assert "may have been delivered" in delivery.error
    subscriber.refresh_from_db()
    assert subscriber.status == "confirmed"


def test_subscribers_get_only_their_topics_and_nothing_when_nothing_matches():
    climate, sport, arts = (factories.make_topic(n) for n in ("Climate", "Sport", "Arts"))
    publish(title="Glacier melt accelerates", topics=[climate])
    publish(title="Cup final goes to penalties", topics=[sport])
    publish(title="A story from last week", topics=[climate], ago=dt.timedelta(days=3))
    climate_reader = make_subscriber(topics=[climate])
    everything_reader = make_subscriber()
    arts_reader = make_subscriber(topics=[arts])
    report = services.digest_deliver_chunk(
        subscriber_ids=[climate_reader.pk, everything_reader.pk, arts_reader.pk], day=timezone.now().date()
    )
    assert report.sent == {"email": 2}
    assert report.skipped == {"email": 1}
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert "Glacier melt accelerates" in bodies[climate_reader.email]
    assert "Cup final" not in bodies[climate_reader.email]
    assert "Cup final" in bodies[everything_reader.email]
    assert "last week" not in bodies[everything_reader.email]
    assert arts_reader.email not in bodies
    assert Delivery.objects.get(subscriber=arts_reader).status == "skipped"


def test_the_digest_uses_the_latest_approved_summary_not_a_draft():
    article = publish(title="Budget passes")
    services_article_summary = article.current_summary
    factories.Summary.create_version(
        article=article, **factories.summary_fields(key_takeaway="An unapproved draft takeaway.")
    )
    items = services.digest_catalogue(until=timezone.now()).items_for()
    assert [i.takeaway for i in items] == [services_article_summary.key_takeaway]


def test_a_chunk_costs_the_same_handful_of_queries_however_many_subscribers_it_holds():
    climate = factories.make_topic("Climate")
    publish(title="Glacier melt accelerates", topics=[climate])
    small = [make_subscriber(topics=[climate] if n % 2 else []).pk for n in range(5)]
    large = [make_subscriber(topics=[climate] if n % 2 else []).pk for n in range(40)]
    day = timezone.now().date()
    with CaptureQueriesContext(connection) as few:
        services.digest_deliver_chunk(subscriber_ids=small, day=day)
    with CaptureQueriesContext(connection) as many:
        services.digest_deliver_chunk(subscriber_ids=large, day=day)
    assert len(many) == len(few) <= 16
    assert len(mail.outbox) == 45


def test_subscribers_with_the_same_digest_each_get_their_own_manage_links(todays_story):
    alice, bob = make_subscriber(email="alice@example.com"), make_subscriber(email="bob@example.com")
    services.digest_deliver_chunk(subscriber_ids=[alice.pk, bob.pk], day=timezone.now().date())
    for subscriber in (alice, bob):
        (message,) = [m for m in mail.outbox if m.to == [subscriber.email]]
        # The links are signed with a timestamp, so compare what they name, not their bytes.
        unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
        token = unsubscribe_url.rstrip("/").rsplit("/", 1)[1]
        assert services.subscriber_from_token(token=token, purpose="manage") == subscriber
        preferences_url = unsubscribe_url.replace(
            reverse("newsletter_unsubscribe", args=[token]), reverse("newsletter_preferences", args=[token])
        )
        html = message.alternatives[0].content
        assert f"Unsubscribe: {unsubscribe_url}" in message.body
        assert f'href="{preferences_url}"' in html and f'href="{unsubscribe_url}"' in html
        assert "invalid" not in html + message.body


def test_a_retry_interrupted_before_sending_keeps_its_row_and_retry_key(monkeypatch, settings, todays_story):
    subscriber = make_subscriber(channel="line", line_user_id=LINE_USER)
    now = timezone.now()
    delivery = Delivery.objects.create(
        subscriber=subscriber,
        digest_date=now.date(),
        channel="line",
        status="failed",
        attempts=1,
        next_retry_at=now,
        claim_token="00000000-0000-0000-0000-000000000000",
    )

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "digest_catalogue", broken)
    with pytest.raises(RuntimeError):
        services.delivery_retry(delivery_id=delivery.pk, now=now)
    kept = Delivery.objects.get(pk=delivery.pk)
    assert (kept.status, kept.retry_key, kept.next_retry_at) == ("failed", delivery.retry_key, now)


def kill_worker_on_send(monkeypatch, *, on_call: int) -> list[str]:
    """The worker is SIGKILLed as it hands off its `on_call`th email: nothing after that line
    runs, not even the exception handler's bookkeeping (every later `_mark` dies too)."""
    real_send = EmailChannel.send
    handed_off: list[str] = []

    def send(self, *, message, recipient):
        if len(handed_off) + 1 == on_call:
            crash_after_sending(monkeypatch)
            raise SystemExit("worker killed")
        shown = real_send(self, message=message, recipient=recipient)
        handed_off.append(recipient.email)
        return shown

    monkeypatch.setattr(EmailChannel, "send", send)
    return handed_off


def test_a_worker_killed_mid_chunk_strands_only_its_in_flight_claim_batch_and_the_rest_get_one_digest(
    monkeypatch, settings, todays_story
):
    settings.NEWSLETTER_CLAIM_BATCH_SIZE = 3
    subscribers = [make_subscriber(send_hour=0) for _ in range(8)]
    ids = [s.pk for s in subscribers]
    day = timezone.now().date()
    handed_off = kill_worker_on_send(monkeypatch, on_call=5)  # second batch, second subscriber
    with pytest.raises(SystemExit):
        services.digest_deliver_chunk(subscriber_ids=ids, day=day)
    monkeypatch.undo()

    status = dict(Delivery.objects.values_list("subscriber_id", "status"))
    assert status == {pk: "sent" for pk in ids[:3]} | {pk: "claimed" for pk in ids[3:6]}
    # The third batch was never claimed: those subscribers are simply still due.
    assert services.due_subscribers(now=timezone.now()) == {day: ids[6:]}

    # The redelivered task and the next beat's chunk both run; nobody gets a second digest.
    services.digest_deliver_chunk(subscriber_ids=ids, day=day)
    run_beat(timezone.now())
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == len(set(recipients))
    assert set(recipients) == set(handed_off) | {s.email for s in subscribers[6:]}
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 5
    # The in-flight batch stays claimed for the operator: its fifth and sixth subscribers were
    # never sent anything, but from the database alone we cannot tell them from the fourth.
    assert Delivery.objects.filter(status=Delivery.Status.CLAIMED).count() == 3


def test_a_chunk_costs_three_queries_per_claim_batch_not_per_subscriber(settings, todays_story):
    settings.NEWSLETTER_CLAIM_BATCH_SIZE = 10
    day = timezone.now().date()
    one_batch = [make_subscriber().pk for _ in range(10)]
    four_batches = [make_subscriber().pk for _ in range(40)]
    with CaptureQueriesContext(connection) as one:
        services.digest_deliver_chunk(subscriber_ids=one_batch, day=day)
    with CaptureQueriesContext(connection) as four:
        services.digest_deliver_chunk(subscriber_ids=four_batches, day=day)
    assert len(one) <= 16
    # Claim, read back, what these subscribers were sent, mark sent and record the stories
    # (a transaction: its savepoint and release are counted here too).
    assert len(four) - len(one) == 3 * 7
    assert len(mail.outbox) == 50


def test_claim_batches_after_the_first_are_dated_by_when_they_were_claimed(
    monkeypatch, settings, todays_story
):
    settings.NEWSLETTER_CLAIM_BATCH_SIZE = 1
    first, second = make_subscriber(), make_subscriber()
    now = timezone.now()
    # The chunk starts at 100 s on the monotonic clock; the second claim comes five minutes in.
    clock = itertools.chain([100.0], itertools.repeat(400.0))
    monkeypatch.setattr(services.time, "monotonic", lambda: next(clock))
    services.digest_deliver_chunk(subscriber_ids=[first.pk, second.pk], day=now.date(), now=now)
    claimed = dict(Delivery.objects.values_list("subscriber_id", "claimed_at"))
    assert claimed == {first.pk: now, second.pk: now + dt.timedelta(minutes=5)}


def test_a_chunk_whose_later_batch_is_already_held_by_another_run_sends_only_its_own_rows(
    settings, todays_story
):
    settings.NEWSLETTER_CLAIM_BATCH_SIZE = 2
    subscribers = [make_subscriber() for _ in range(4)]
    day = timezone.now().date()
    # An overlapping run got to the last two first (it is still sending them).
    services.deliveries_claim(subscribers=subscribers[2:], day=day, now=timezone.now())
    report = services.digest_deliver_chunk(subscriber_ids=[s.pk for s in subscribers], day=day)
    assert report.sent == {"email": 2}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in subscribers[:2])


def test_a_hard_failure_after_the_subscriber_unsubscribed_mid_send_does_not_pause_them(todays_story):
    with FakeSlack() as slack:
        url = slack.webhook_url()
        slack.statuses[url.removeprefix(slack.base_url)] = (404, "no_service")
        subscriber = make_subscriber(channel="slack", slack_webhook_url=url)
        now = timezone.now()
        deliveries = services.deliveries_claim(subscribers=[subscriber], day=now.date(), now=now)
        services.subscriber_unsubscribe(subscriber=Subscriber.objects.get(pk=subscriber.pk))
        report = services.deliveries_send(deliveries=deliveries, now=now)
    assert report.failed == {"slack": 1}
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_unsubscribing_works_from_any_status_once(todays_story):
    for status in ("pending", "confirmed", "paused"):
        subscriber = make_subscriber(status=status)
        stale = Subscriber.objects.get(pk=subscriber.pk)
        assert services.subscriber_unsubscribe(subscriber=subscriber, reason="by link") is True
        assert services.subscriber_unsubscribe(subscriber=stale, reason="again") is False
        assert stale.status == Subscriber.Status.UNSUBSCRIBED
        subscriber.refresh_from_db()
        assert (subscriber.status, subscriber.status_reason) == ("unsubscribed", "by link")


def test_releasing_a_delivery_keeps_a_failure_recorded_since_the_page_loaded(todays_story):
    delivery = Delivery.objects.create(
        subscriber=make_subscriber(),
        digest_date=timezone.now().date(),
        channel="email",
        claim_token="00000000-0000-0000-0000-000000000000",
    )
    stale = Delivery.objects.get(pk=delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(error="ambiguous: SMTP timeout")
    assert services.delivery_release(delivery=stale)
    delivery.refresh_from_db()
    assert delivery.error == "ambiguous: SMTP timeout\nReleased by an operator."


def test_the_scheduler_returns_what_to_queue_and_queues_nothing_itself(
    settings, todays_story, django_capture_on_commit_callbacks
):
    settings.NEWSLETTER_CHUNK_SIZE = 2
    ids = sorted(make_subscriber(send_hour=0).pk for _ in range(3))
    with django_capture_on_commit_callbacks() as callbacks:
        plan = services.digest_schedule()
    assert callbacks == []
    assert [chunk for chunk, _day in plan.chunks] == [ids[:2], ids[2:]]
    assert (plan.retry_ids, plan.recovered) == ([], 0)


def test_newsletter_services_never_import_tasks():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(services))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name and name.split(".")[-1] == "tasks"}
