from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from newsletter.models import Delivery
from tests.factories import make_subscriber
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("send_digest", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_counts_per_channel_and_sends_nothing(todays_story):
    make_subscriber(send_hour=0)
    make_subscriber(send_hour=0)
    make_subscriber(
        send_hour=0, channel="slack", slack_webhook_url="https://hooks.slack.com/services/T1/B1/x"
    )
    make_subscriber(send_hour=0, status="pending")
    output = run("--dry-run", "--date", timezone.now().date().isoformat())
    assert "email: would send 2" in output
    assert "slack: would send 1" in output
    assert "line: would send 0" in output
    assert mail.outbox == []
    assert not Delivery.objects.exists()


def test_sending_for_a_date_reaches_everyone_once_and_a_second_run_sends_nothing(todays_story):
    day = timezone.now().date().isoformat()
    with FakeSlack() as slack:
        make_subscriber(send_hour=23)  # hour not reached yet does not matter with --date
        make_subscriber(channel="slack", slack_webhook_url=slack.webhook_url())
        first = run("--date", day)
        second = run("--date", day)
    assert "email: sent 1" in first and "slack: sent 1" in first
    assert "total: sent 0" in second
    assert len(mail.outbox) == 1 and len(slack.requests) == 1


def test_a_malformed_date_is_a_clear_error():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--date", "24/11/2026")


def test_without_a_date_it_sends_to_whoever_the_beat_would_pick_now(todays_story):
    due = make_subscriber(send_hour=0, timezone="UTC")
    make_subscriber(send_hour=0, timezone="UTC", status="paused")
    output = run()
    assert "email: sent 1" in output
    assert [m.to for m in mail.outbox] == [[due.email]]
