"""The subscribe flow in Debian's Chromium, with an axe accessibility check on each page."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core import mail
from django.utils import timezone

from newsletter.models import Subscriber
from tests.factories import publish

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def assert_accessible(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], results.generate_report()


@pytest.mark.django_db(transaction=True)
def test_a_reader_subscribes_from_the_archive_page_and_confirms_in_the_browser(live_server, page, settings):
    settings.SITE_URL = live_server.url
    publish(title="Council approves the light-rail line")
    page.goto(f"{live_server.url}/digest/{timezone.now().date().isoformat()}/")
    assert page.get_by_role("heading", name="Summaries like this, in your inbox every morning").is_visible()
    assert_accessible(page)
    # The honeypot is hidden from people.
    assert not page.locator("#newsletter-website").is_visible()

    page.get_by_label("Email address").fill("browser@example.com")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert_accessible(page)

    (message,) = mail.outbox
    link = re.search(r"http://\S+/newsletter/confirm/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Yes, send me the daily digest").click()
    page.get_by_role("heading", name="You're subscribed").wait_for()
    assert Subscriber.objects.get().status == Subscriber.Status.CONFIRMED

    page.get_by_role("link", name="Choose topics, time, timezone or channel").click()
    page.get_by_label("Send at (hour, 0–23, your time)").fill("6")
    page.get_by_label("Timezone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    assert_accessible(page)
    subscriber = Subscriber.objects.get()
    assert (subscriber.send_hour, subscriber.timezone) == (6, "Asia/Tokyo")
