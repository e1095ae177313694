"""Sign up, verify by the emailed link, comment and reply in Debian's Chromium."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core import mail

from tests import factories

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "a long and unusual passphrase 42"


def test_a_new_reader_signs_up_verifies_comments_and_replies(live_server, settings, plain_static, page):
    settings.COMMENT_HOLD_ACCOUNT_AGE_HOURS = 0  # a brand-new account, posting straight away
    failed: list[str] = []
    page.on(
        "response", lambda r: failed.append(r.url) if r.status >= 400 and "favicon" not in r.url else None
    )
    article = factories.make_published_article(title="Council approves the light-rail line")
    article_url = live_server.url + article.get_absolute_url()

    page.goto(article_url)
    page.get_by_role("link", name="Log in to join the discussion").wait_for()
    page.goto(live_server.url + "/accounts/signup/")
    page.locator("#id_email").fill("newcomer@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile("/accounts/confirm-email/"))

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(live_server.url + "/accounts/confirm-email/" + link.rstrip("/").rsplit("/", 1)[1] + "/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    page.goto(article_url)
    page.get_by_label("Your comment").fill("First! This *really* matters.")
    page.get_by_role("button", name="Post comment").click()
    comment = page.locator(".comments > li.comment").first
    comment.get_by_text("This really matters.", exact=False).wait_for()
    assert page.locator("[data-comment-status]").inner_text() == "Your comment is posted."

    comment.get_by_role("link", name="Reply").click()
    comment.get_by_label("Your reply").fill("Replying to myself, politely.")
    comment.get_by_role("button", name="Post reply").click()
    comment.locator(".replies li.comment").get_by_text("Replying to myself, politely.").wait_for()

    assert failed == []  # every script and stylesheet loaded
    page.reload()
    assert page.locator(".comments > li.comment").count() == 1
    assert page.locator(".comments .replies li.comment").count() == 1
    assert "newcomer" in page.locator(".comments .author").first.inner_text()

    # The discussion section (forms, thread, reply boxes) passes axe's checks.
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe.Axe().run(page, context="#discussion")
    assert results.response["passes"], "axe did not run"
    assert results.violations_count == 0, results.generate_report()
