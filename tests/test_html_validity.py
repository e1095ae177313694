"""The pages readers see are valid HTML by the Nu HTML Checker (vnu), the W3C's own validator.

vnu is a Java program shipped in the npm package `vnu-jar`: `make validator` puts it under
.ci/vnu/ and .ci/run installs Debian's Java when it is missing. Without either the test skips
with the reason (so on CI's services leg, where nothing may skip, a missing validator fails).
All pages go through one vnu run: the JVM starts once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Summary, Topic
from comments.services import comment_post
from tests import factories

pytestmark = pytest.mark.django_db
# vnu is slow-ish (a JVM) and a tool from outside the venv, like the Chromium tests.
needs_validator = pytest.mark.browser

VNU_JAR = Path(
    os.environ.get("VNU_JAR", settings.BASE_DIR / ".ci/vnu/node_modules/vnu-jar/build/dist/vnu.jar")
)


def _vnu_command() -> list[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed (apt-get install default-jre-headless)")
    if not VNU_JAR.is_file():
        pytest.skip(f"the Nu HTML Checker is not installed at {VNU_JAR} (make validator)")
    return [java, "-Xss2m", "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always"]


def validate(pages: dict[str, str], directory: Path) -> dict[str, list[str]]:
    """vnu's errors for each page, as "line: message" (warnings are not errors); one JVM start."""
    for name, html in pages.items():
        (directory / f"{name}.html").write_text(html, encoding="utf-8")
    run = subprocess.run(
        [*_vnu_command(), *(str(directory / f"{name}.html") for name in pages)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    errors: dict[str, list[str]] = {name: [] for name in pages}
    # vnu writes its JSON report to stderr.
    for message in json.loads(run.stderr)["messages"]:
        if message["type"] in ("error", "non-document-error") or message.get("subType") == "fatal":
            name = Path(message.get("url", "")).stem
            errors.setdefault(name, []).append(f"{message.get('lastLine')}: {message['message']}")
    return errors


# What these pages once served: a help list inside <p><span>, and a microsecond time. The run
# must find both, or a clean report means nothing.
KNOWN_BAD_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body>'
    '<p><span class="helptext"><ul><li>help</li></ul></span></p>'
    '<time datetime="2026-03-03T10:00:29.744260+00:00">3 March</time></body></html>'
)


@pytest.fixture
def site(editor, reader):
    """A site with something on every page: topics, comments, a correction, a story of several
    sources with a copy, a digest day."""
    topic = Topic.objects.create(name="Energy & Grid", slug="energy")
    article = factories.make_published_article(
        approved_by=editor, title='AT&T & Ørsted agree "5 < 6 GW" deal', lead_image_url=""
    )
    article.topics.add(topic)
    correction = Summary.create_version(
        article=article,
        **factories.summary_fields(kind="editor", producer="Erin", key_takeaway="AT&T & Ørsted: 5 < 6 GW."),
    )
    article.publish(correction, by=editor)
    factories.make_published_article(title="Ferry timetable changes").topics.add(topic)
    # Its story: another summary on the site, a report not summarised and a copy.
    explained = factories.make_published_article(
        title="Ørsted & AT&T: the <deal> explained", story=article.story, source=factories.make_source()
    )
    factories.make_article(title="Wire: 5 < 6 GW deal", story=article.story)
    factories.make_article(story=article.story, duplicate_of=article, url="https://copy.example.com/deal")
    # The story's summary: written from both, cited, with a disagreement, an update line, a
    # timeline and follow-ups both ways.
    factories.publish_story_summary(
        article,
        [article, explained],
        by=editor,
        update_line="The <deal> & its size, from a second source.",
        disagreements=[
            {"fact": "the size", "claims": [{"source": 1, "says": "5 GW"}, {"source": 2, "says": "6 GW"}]}
        ],
    )
    factories.make_story_update(article.story, "AT&T & Ørsted agree a <deal>.")
    later = factories.make_published_article(title="The deal is approved").story
    factories.make_follow_up(article.story, answered_by=later, text="Will 5 < 6 GW hold?")
    earlier = factories.make_published_article(title="Talks begin").story
    factories.make_follow_up(earlier, answered_by=article.story)
    commenter = factories.verify(reader)
    comment = comment_post(user=commenter, article=article, body="Is 5 < 6 & *why*? <b>bold</b>")
    comment_post(user=commenter, article=article, body="A reply with https://example.com/x", parent=comment)
    return {"article": article, "topic": topic, "reader": commenter}


def _pages(site) -> dict[str, str]:
    """Every page type readers and members see, rendered from `site` (no page cache)."""
    anonymous = Client()
    article, topic = site["article"], site["topic"]
    urls = {
        "home": "/",
        "article": article.get_absolute_url(),
        "story": article.story.get_absolute_url(),
        "topic": topic.get_absolute_url(),
        "source": f"/sources/{article.source.slug}/",
        "search": "/search/?q=Ørsted",
        "search-past-the-results": "/search/?q=Ørsted&page=2",  # with the pagination links
        "corrections": reverse("corrections"),
        "api-docs": reverse("api_docs"),
        "digest": f"/digest/{timezone.now().date().isoformat()}/",
        "signup": reverse("account_signup"),
        "login": reverse("account_login"),
        "password-reset": reverse("account_reset_password"),
    }
    pages = {}
    for name, url in urls.items():
        response = anonymous.get(url)
        assert response.status_code == 200, url
        pages[name] = response.content.decode()
    # A sign-up with errors renders the error lists next to the help text.
    response = anonymous.post(
        reverse("account_signup"), {"email": "nope", "password1": "1", "password2": "2"}
    )
    assert response.status_code == 200
    pages["signup-errors"] = response.content.decode()
    member = Client()
    member.force_login(site["reader"])
    for name, url in {
        "profile": reverse("profile"),
        "article-logged-in": article.get_absolute_url(),
        "email": reverse("account_email"),
        "change-password": reverse("account_change_password"),
    }.items():
        response = member.get(url)
        assert response.status_code == 200, url
        pages[name] = response.content.decode()
    # A new API token, shown once; then the profile listing it.
    response = member.post(reverse("api_token_new"), {"name": "My dashboard"})
    assert response.status_code == 200
    pages["api-token"] = response.content.decode()
    pages["profile-with-token"] = member.get(reverse("profile")).content.decode()
    return pages


@needs_validator
def test_every_reader_and_account_page_is_valid_html(site, settings, tmp_path):
    settings.PAGE_CACHE_SECONDS = 0
    pages = {**_pages(site), "known-bad": KNOWN_BAD_PAGE}
    # The story summary's markup is among what is checked: sources, quotes, where sources
    # differ, the update line, the timeline and follow-ups both ways.
    for name in ("story", "article"):
        for mark in ('class="quotes"', 'class="disagreements"', 'class="update-line"', 'class="timeline"'):
            assert mark in pages[name], (name, mark)
        assert "Follow-up:" in pages[name] and "Follows up:" in pages[name]

    errors = validate(pages, tmp_path)

    known_bad = errors.pop("known-bad")
    assert any("fraction of a second" in e for e in known_bad), known_bad
    assert any("“p”" in e for e in known_bad), known_bad
    found = [f"{name}:{error}" for name, page_errors in errors.items() for error in page_errors]
    assert not found, "\n".join(found)


class _MachineTimes(HTMLParser):
    """Every machine-readable moment on a page: <time datetime> and <meta property="…_time">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "time" and found.get("datetime") is not None:
            self.values.append(found["datetime"])
        elif tag == "meta" and (found.get("property") or "").endswith("_time"):
            self.values.append(found.get("content") or "")


def test_every_machine_readable_time_is_a_whole_second_in_utc(site, settings):
    settings.PAGE_CACHE_SECONDS = 0
    settings.TIME_ZONE = "Asia/Kolkata"  # +05:30: local time shown to people, never to machines
    seen = 0
    for name, html in _pages(site).items():
        times = _MachineTimes()
        times.feed(html)
        times.close()
        for value in times.values:
            moment = datetime.fromisoformat(value)
            # HTML allows at most three fraction digits; whole seconds need none.
            assert "." not in value and moment.microsecond == 0, (name, value)
            assert moment.utcoffset() == timedelta(0), (name, value)
        seen += len(times.values)
    assert seen >= 15  # cards, the article and its comments, corrections, the profile
