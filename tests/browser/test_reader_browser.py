"""The reader site in Debian's Chromium: screenshots at phone and desktop widths, and axe-core.

Run with `pytest -m browser`. Screenshots land in test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tests import factories

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
WIDTHS = {"desktop": 1280, "phone": 390}
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def site(transactional_db, live_server, plain_static):
    # No group lookups here: transactional_db flushes the groups data migration after a test.
    editor = factories.make_user(email="desk@example.com", staff=True)
    reader = factories.make_user(email="riley@example.com", display_name="Riley")
    topic = factories.make_topic("Transport")
    articles = []
    for n in range(5):
        article = factories.make_published_article(
            approved_by=editor, title=f"Council approves light-rail line, phase {n + 1}"
        )
        article.topics.add(topic)
        articles.append(article)
    # The first two are one story, with a copy of the first: the story page and coverage.
    story = articles[0].story
    articles[1].story = story
    articles[1].save(update_fields=["story"])
    factories.make_article(story=story, duplicate_of=articles[0], url="https://copy.example.com/rail")
    story.recount()
    # The lead carries a story summary of both: sources, quotes, a disagreement, an update
    # line; the story has a timeline entry and a follow-up.
    factories.publish_story_summary(
        articles[0],
        articles[:2],
        by=editor,
        update_line="A second source reports the vote.",
        disagreements=[
            {"fact": "the vote", "claims": [{"source": 1, "says": "7-2"}, {"source": 2, "says": "6-3"}]}
        ],
    )
    factories.make_story_update(story, "The council approved the first phase.")
    factories.make_follow_up(story, answered_by=articles[2].story, text="When does phase 3 start?")
    from comments.models import Comment

    Comment.objects.create(
        article=articles[0],
        author=reader,
        body="Finally some good news.",
        body_html="<p>Finally some good news.</p>",
    )
    return {"url": live_server.url, "article": articles[0], "topic": topic, "story": story}


def _pages(site) -> dict[str, str]:
    return {
        "home": site["url"] + "/",
        "article": site["url"] + site["article"].get_absolute_url(),
        "search": site["url"] + "/search/?q=council",
        "topic": site["url"] + site["topic"].get_absolute_url(),
        "story": site["url"] + site["story"].get_absolute_url(),
    }


def test_screenshots_of_home_and_an_article_at_desktop_and_phone_widths(site, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    for width in WIDTHS.values():
        page = browser.new_page(viewport={"width": width, "height": 900})
        # Anything the page loads from another origin would be a third-party asset.
        page.on("request", lambda r: None if r.url.startswith(site["url"]) else blocked.append(r.url))
        for name in ("home", "article", "story"):
            page.goto(_pages(site)[name])
            path = ARTIFACTS / f"reader-{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 5000
            # Responsive: nothing wider than the viewport at phone width.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.close()
    assert blocked == []


def test_relative_times_are_filled_in_by_the_script(site, browser):
    from articles.models import Article

    # Three hours old: the server writes the exact date, the reader's browser says how long ago.
    Article.objects.update(published_on_site_at=timezone.now() - timedelta(hours=3))
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.append(r.url))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    page.goto(_pages(site)["home"])
    assert page.locator("time[data-relative]").first.inner_text() == "3 hr. ago"
    assert errors == []  # includes CSP violations, which Chromium reports on the console


@pytest.mark.parametrize("name", ["home", "article", "search", "topic", "story"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation(site, browser, name, scheme):
    from axe_playwright_python.sync_playwright import Axe

    # axe is injected by the test harness, not the page: CSP would rightly refuse it otherwise.
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    page.goto(_pages(site)[name])
    results = Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert serious == [], "\n".join(serious)
    context.close()
