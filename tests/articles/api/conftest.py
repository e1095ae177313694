"""A site for the JSON API's tests: a few things on the site, and beside them everything the API
must never show, each marked with a word that appears nowhere else."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import api_token_create
from articles.models import Article, AuditEntry, OpenQuestion, Summary
from comments.models import Comment, CommentFlag
from tests import factories

# Every one of these is written somewhere in the database and must never leave through the API.
SECRETS = {
    "in_review_title": "Zephyrine draft headline",
    "draft_takeaway": "Quillon draft takeaway awaiting review",
    "draft_in_story": "Marzipan draft of a story member",
    "unapproved_version": "Obsidian unapproved second version",
    "superseded_version": "Tamarind superseded approved version",
    "rejected_title": "Vorpal rejected headline",
    "rejected_takeaway": "Vorpal rejected takeaway",
    "new_title": "Nimbus article not yet extracted",
    "failed_title": "Galloway failed extraction",
    "extracted_text": "Cormorant full original text",
    "feed_summary": "Heliotrope feed excerpt",
    "status_reason": "Wisteria status reason",
    "unverified_claim": "Basilisk unverified claim",
    "validation_warning": "Kestrel validation warning",
    "editor_email": "editor@example.com",
    "editor_name": "Erin Editor",
    "reader_email": "reader@example.com",
    "reader_name": "Riley Reader",
    "held_comment": "Juniper comment held for moderation",
    "visible_comment": "Larkspur visible comment",
    "audit_reason": "Pomegranate audit reason",
    "feed_url": "secret-feed.example.net",
    "feed_error": "Sassafras feed error",
    "editor_only_story": "Umber story with nothing on the site",
    "unverified_quote": "Gryphon quote the grounding check could not find",
    "unverified_fact": "Manticore number no source contains",
    "open_question": "Chimera question nobody has answered",
}


def _text(word: str) -> str:
    # Long enough to be a real article, and carrying the marker.
    return f"{word}. " + factories.ARTICLE_TEXT


@pytest.fixture
def api_site(editor, reader, settings):
    """Two stories on the site (one of three sources, with a copy and members that are not on
    the site), a correction, topics and sources; and every kind of thing the API hides."""
    settings.API_RATE_LIMIT = settings.API_TOKEN_RATE_LIMIT = "100000/m"
    transport, energy = factories.make_topic("Transport"), factories.make_topic("Energy")
    gazette = factories.make_source(name="City Gazette")
    tribune = factories.make_source(name="Valley Tribune")
    herald = factories.make_source(name="Harbour Herald")
    wire = factories.make_source(
        name="Wire Service",
        feed_url=f"https://{SECRETS['feed_url']}/feed.xml",
        last_error=SECRETS["feed_error"],
        consecutive_failures=3,
    )

    rail = factories.make_story(title="Council approves light rail")
    first = factories.publish(
        title="Council approves light rail",
        story=rail,
        source=gazette,
        topics=[transport],
        approved_by=editor,
        ago=timedelta(hours=3),
        extracted_text=_text(SECRETS["extracted_text"]),
        feed_summary=SECRETS["feed_summary"],
    )
    first.summaries.update(
        unverified_claims=[SECRETS["unverified_claim"]], validation_warnings=[SECRETS["validation_warning"]]
    )
    second = factories.publish(
        title="Tribune: the rail vote was close",
        story=rail,
        source=tribune,
        topics=[transport],
        ago=timedelta(hours=2),
    )
    copy = factories.make_article(
        story=rail,
        source=herald,
        duplicate_of=first,
        title=first.title,
        url="https://herald.example.com/copy",
    )
    in_story_draft = factories.make_review_article(
        story=rail, source=wire, summary={"key_takeaway": SECRETS["draft_in_story"]}
    )
    rejected_member = factories.make_article(
        story=rail, source=wire, status=Article.Status.REJECTED, title=SECRETS["rejected_title"] + " (member)"
    )
    # A correction: v1 approved, v2 approved (the current one), v3 drafted and not approved.
    first.summaries.filter(version=1).update(key_takeaway=SECRETS["superseded_version"])
    v2 = Summary.create_version(
        article=first, **factories.summary_fields(kind="editor", producer="Erin Editor")
    )
    first.refresh_from_db()
    first.publish(v2, by=editor, reason=SECRETS["audit_reason"])
    Summary.create_version(
        article=first, **factories.summary_fields(key_takeaway=SECRETS["unapproved_version"])
    )

    ferry = factories.publish(
        title="Ferry timetable changes", source=tribune, topics=[energy], ago=timedelta(hours=1)
    )

    # The ferry story's summary is a story summary of two reports (the Wire's is not on the
    # site): citations, one of them unverified, a disagreement and an unverified fact; with a
    # timeline entry, and the answer to one of the rail story's What to watch questions.
    ferry_wire = factories.make_article(
        story=ferry.story, source=wire, title="Wire: ferry timetable", url="https://wire.example.com/ferry"
    )
    fields = factories.story_summary_fields(
        [ferry, ferry_wire],
        disagreements=[
            {
                "fact": "the first sailing",
                "claims": [{"source": 1, "says": "6:00"}, {"source": 2, "says": "6:30"}],
            }
        ],
        unverified_facts=[{"field": "key_points[0]", "kind": "name", "text": SECRETS["unverified_fact"]}],
    )
    fields["key_points"][2]["citations"][1]["quote"] = SECRETS["unverified_quote"]
    story_columns = ("kind", "producer", "key_points", "faq", "sources", "disagreements", "unverified_facts")
    ferry.summaries.update(**{name: fields[name] for name in story_columns})
    factories.make_story_update(ferry.story, "The ferry timetable changes from Monday.")
    factories.make_follow_up(rail, answered_by=ferry.story, text="Will the ferries change too?")
    OpenQuestion.objects.create(story=rail, text=SECRETS["open_question"])

    # Never on the site.
    draft = factories.make_review_article(
        title=SECRETS["in_review_title"],
        source=gazette,
        summary={"key_takeaway": SECRETS["draft_takeaway"]},
        status_reason=SECRETS["status_reason"],
    )
    rejected = factories.make_review_article(
        title=SECRETS["rejected_title"],
        source=gazette,
        summary={"key_takeaway": SECRETS["rejected_takeaway"]},
    )
    rejected.transition_to(Article.Status.REJECTED, reason=SECRETS["audit_reason"])
    new = factories.make_article(title=SECRETS["new_title"], status=Article.Status.NEW, source=wire)
    failed = factories.make_article(title=SECRETS["failed_title"], status=Article.Status.FAILED, source=wire)
    hidden_story = factories.make_story(title=SECRETS["editor_only_story"])
    factories.make_article(story=hidden_story, title=SECRETS["editor_only_story"], source=wire)

    commenter = factories.verify(reader)
    visible = Comment.objects.create(article=first, author=commenter, body=SECRETS["visible_comment"])
    Comment.objects.create(
        article=first, author=commenter, body=SECRETS["held_comment"], status=Comment.Status.HELD
    )
    CommentFlag.objects.create(comment=visible, user=editor)
    AuditEntry.record("comment.hold", actor=editor, target=visible, reason=SECRETS["audit_reason"])

    token, secret = api_token_create(user=commenter, name="My dashboard")
    return SimpleNamespace(
        transport=transport,
        energy=energy,
        gazette=gazette,
        tribune=tribune,
        herald=herald,
        wire=wire,
        rail=rail,
        first=first,
        second=second,
        copy=copy,
        ferry=ferry,
        ferry_wire=ferry_wire,
        in_story_draft=in_story_draft,
        rejected_member=rejected_member,
        draft=draft,
        rejected=rejected,
        new=new,
        failed=failed,
        hidden_story=hidden_story,
        token=token,
        secret=secret,
        now=timezone.now(),
    )


@pytest.fixture
def api(settings):
    """An anonymous client, with the page cache off unless a test turns it on."""
    settings.PAGE_CACHE_SECONDS = 0
    return Client()
