"""The desk in the admin: who may do what (checked on the server), the review screen's form
errors and conflicts, the review queue, the desk home, the audit log, and stories (their
list, the per-story review queue, their page and the editors' decisions)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.desk import services, versions
from articles.desk import stories as services_stories
from articles.models import Article, AuditEntry, ModelCall, Source, Story, Summary
from articles.summarizers.tasks import summarize_article
from tests import factories
from tests.articles.stories.events import HEARING, RAIL, RAIL_REWRITE
from tests.fakes.anthropic_server import error, user_content

CAST = ["editor", "moderator", "other_staff", "reader", "anonymous"]
LOGIN_URL = "/admin/login/"


def review_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


QUEUE_URL = "/admin/articles/article/"


def review_data(summary: Summary | None, action: str, **overrides: object) -> dict[str, object]:
    """What the review screen posts: the summary as shown, plus the pressed button."""
    data: dict[str, object] = {
        "action": action,
        "based_on_version": summary.version if summary else "",
        "key_takeaway": summary.key_takeaway if summary else "",
        "faq-TOTAL_FORMS": "2",
        "faq-INITIAL_FORMS": "0",
        "faq-MIN_NUM_FORMS": "0",
        "faq-MAX_NUM_FORMS": "20",
        "reason": "",
        "note": "",
        "schedule_at": "",
    }
    points = summary.key_points if summary else [{}, {}, {}]
    for i, point in enumerate(points):
        data[f"kp_text_{i}"] = point.get("text", "")
        data[f"kp_evidence_{i}"] = "\n".join(point.get("evidence") or [])
    for i, row in enumerate((summary.faq if summary else [])[:2]):
        data[f"faq-{i}-question"] = row["question"]
        data[f"faq-{i}-answer"] = row["answer"]
        data[f"faq-{i}-evidence"] = "\n".join(row.get("evidence") or [])
    data.update(overrides)
    return data


# The cast's users are created with a password; tests/conftest.py hashes them fast.
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def article(db):
    """In review, with the AI draft (v1) and an editor's edit (v2)."""
    article = factories.make_review_article()
    first = article.latest_summary
    points = [dict(p) for p in first.key_points]
    points[0]["text"] = "The council voted for the line."
    Summary.create_version(
        article=article,
        **factories.summary_fields(kind=Summary.Kind.EDITOR, producer="Erin Editor", key_points=points),
    )
    return article


def _snapshot(article: Article) -> tuple:
    article.refresh_from_db()
    return (
        article.status,
        article.scheduled_for,
        article.summaries.count(),
        AuditEntry.objects.count(),
        article.needs_attention,
    )


def _in_future() -> str:
    return (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")


# Each action: how to perform it, and how to tell that it happened.
REVIEW_ACTIONS = {
    "approve": (
        lambda s: review_data(s, "approve", kp_text_1="Edited."),
        lambda a: a.status == Article.Status.PUBLISHED,
    ),
    "save": (lambda s: review_data(s, "save", kp_text_1="Edited."), lambda a: a.summaries.count() == 3),
    "reject": (
        lambda s: review_data(s, "reject", reason="Not news."),
        lambda a: a.status == Article.Status.REJECTED,
    ),
    "regenerate": (
        lambda s: review_data(s, "regenerate", note="Shorter."),
        lambda a: a.audit_entries.filter(action="regenerate", reason="Shorter.").exists(),
    ),
    "schedule": (
        lambda s: review_data(s, "schedule", schedule_at=_in_future()),
        lambda a: a.scheduled_for is not None,
    ),
    "restore": (
        lambda s: {"action": "restore", "restore_version": "1", "based_on_version": str(s.version)},
        lambda a: a.summaries.count() == 3,
    ),
}


def _assert_denied(who: str, response) -> None:
    if who in ("reader", "anonymous"):
        # No admin at all: the admin sends them to its login page.
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN_URL)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", list(REVIEW_ACTIONS))
def test_only_editors_can_act_on_the_review_screen(
    who, action, article, login, django_capture_on_commit_callbacks
):
    client = login(who)
    make_data, happened = REVIEW_ACTIONS[action]
    before = _snapshot(article)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(review_url(article), make_data(article.latest_summary))

    article.refresh_from_db()
    if who == "editor":
        assert response.status_code == 302, response.content.decode()[:2000]
        assert happened(article)
        assert AuditEntry.objects.filter(actor__email="editor@example.com").exists()
    else:
        _assert_denied(who, response)
        assert _snapshot(article) == before


BULK_ACTIONS = {
    "approve_selected": ({}, lambda a: a.status == Article.Status.PUBLISHED),
    "reject_selected": ({"reason": "Duplicate."}, lambda a: a.status == Article.Status.REJECTED),
    "regenerate_selected": ({"note": ""}, lambda a: a.audit_entries.filter(action="regenerate").exists()),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", list(BULK_ACTIONS))
def test_only_editors_can_run_bulk_actions(who, action, login, db, django_capture_on_commit_callbacks):
    article = factories.make_review_article()
    extra, happened = BULK_ACTIONS[action]
    client = login(who)
    before = _snapshot(article)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            QUEUE_URL, {"action": action, "_selected_action": [article.pk], "index": "0", **extra}
        )

    article.refresh_from_db()
    if who == "editor":
        assert response.status_code == 302
        assert happened(article)
    else:
        if who == "moderator":
            # Moderators may see the queue, but the action is not offered and not run: the
            # admin shows the list again (and the snapshot below shows nothing changed).
            assert response.status_code == 200
        else:
            _assert_denied(who, response)
        assert _snapshot(article) == before


@pytest.mark.parametrize("who", CAST)
def test_only_editors_can_retry_a_failed_article(who, login, db, django_capture_on_commit_callbacks):
    article = factories.make_article(status=Article.Status.FAILED, status_reason="timeout")
    client = login(who)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("admin:articles_article_retry", args=[article.pk]))

    article.refresh_from_db()
    if who == "editor":
        assert response.status_code == 302
        assert article.status == Article.Status.EXTRACTED
    else:
        _assert_denied(who, response)
        assert article.status == Article.Status.FAILED
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("who", "status", "buttons"),
    [
        ("editor", 200, True),
        ("moderator", 200, False),
        ("other_staff", 403, False),
        ("reader", 302, False),
        ("anonymous", 302, False),
    ],
)
def test_the_review_screen_is_read_only_for_everyone_but_editors(who, status, buttons, article, login):
    response = login(who).get(review_url(article))

    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert ('value="approve"' in html) is buttons
        assert ('value="save"' in html) is buttons


@pytest.mark.parametrize("who", CAST)
def test_nobody_can_edit_or_delete_audit_entries(who, article, login):
    entry = AuditEntry.record("reject", article=article, reason="kept forever")
    client = login(who)
    change = reverse("admin:articles_auditentry_change", args=[entry.pk])
    delete = reverse("admin:articles_auditentry_delete", args=[entry.pk])

    client.post(change, {"action": "publish", "reason": "rewritten"})
    client.post(delete, {"post": "yes"})

    entry.refresh_from_db()
    assert (entry.action, entry.reason) == ("reject", "kept forever")


# --- the review screen --------------------------------------------------------------------------


def test_the_review_screen_highlights_each_evidence_quote_in_the_source_text(article, login):
    html = login("editor").get(review_url(article)).content.decode()

    assert (
        '<mark class="evidence">The city council voted on Tuesday to build a new light-rail line'
        " across the river</mark>." in html
    )
    assert '<mark class="evidence">cut commuting times in half for forty thousand riders</mark>' in html
    assert "The council voted for the line." in html  # the latest version fills the form


def test_a_key_point_whose_evidence_is_not_in_the_source_is_marked_unverified(login, db):
    fields = factories.summary_fields()
    fields["key_points"][2]["evidence"] = ["the mayor resigned in protest"]
    article = factories.make_review_article(summary={"key_points": fields["key_points"]})

    html = login("editor").get(review_url(article)).content.decode()

    assert html.count('<span class="desk-badge">unverified</span>') == 1
    assert "Public hearings come in the spring." in html


def test_the_review_screen_shows_the_diff_from_the_ai_draft_and_the_audit_log(article, login, editor):
    AuditEntry.record("summary.edit", actor=editor, article=article, reason="tightened")

    html = login("editor").get(review_url(article)).content.decode()

    assert '<li class="removed">What happened: The council voted to build a light-rail line.</li>' in html
    assert '<li class="added">What happened: The council voted for the line.</li>' in html
    assert "tightened" in html
    assert "Restore version 1" in html


def test_editing_a_key_point_and_approving_publishes_the_edit(article, login):
    client = login("editor")
    data = review_data(article.latest_summary, "approve", kp_text_2="Hearings start in March.")

    response = client.post(review_url(article), data)

    assert response.status_code == 302
    assert response["Location"] == QUEUE_URL
    page = client.get(Article.objects.get(pk=article.pk).get_absolute_url())
    assert "Hearings start in March." in page.content.decode()
    assert Article.objects.get(pk=article.pk).current_summary.version == 3


@pytest.mark.parametrize(
    ("case", "overrides", "message"),
    [
        ("missing key point", {"kp_text_1": ""}, "needs text: a summary has three key points"),
        ("empty takeaway", {"key_takeaway": "  "}, "The key takeaway cannot be empty."),
        (
            "faq question without answer",
            {"faq-1-question": "When does it open?", "faq-1-answer": ""},
            "A question needs an answer.",
        ),
    ],
)
def test_bad_input_on_approve_is_a_form_error_and_changes_nothing(case, overrides, message, article, login):
    before = _snapshot(article)

    response = login("editor").post(
        review_url(article), review_data(article.latest_summary, "approve", **overrides)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _snapshot(article) == before


def test_scheduling_in_the_past_is_a_form_error(article, login):
    before = _snapshot(article)
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    response = login("editor").post(
        review_url(article), review_data(article.latest_summary, "schedule", schedule_at=past)
    )

    assert response.status_code == 200
    assert "The publication time must be in the future." in response.content.decode()
    assert _snapshot(article) == before


def test_rejecting_without_a_reason_is_a_form_error(article, login):
    before = _snapshot(article)

    response = login("editor").post(review_url(article), review_data(article.latest_summary, "reject"))

    assert response.status_code == 200
    assert "A rejection needs a reason." in response.content.decode()
    assert _snapshot(article) == before


def test_a_stale_save_gets_a_conflict_message_showing_what_changed(article, login, editor):
    shown_to_second_editor = article.latest_summary  # both editors opened version 2
    first = review_data(shown_to_second_editor, "save", kp_text_1="First editor's words.")
    assert login("editor").post(review_url(article), first).status_code == 302
    before = _snapshot(article)

    second = review_data(shown_to_second_editor, "approve", kp_text_1="Second editor's words.")
    response = login("editor").post(review_url(article), second)

    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone saved version 3 while you were editing version 2." in html
    assert '<li class="added">Why it matters: First editor&#x27;s words.</li>' in html
    assert _snapshot(article) == before
    assert article.latest_summary.key_points[1]["text"] == "First editor's words."
    assert "Second editor&#x27;s words." in html  # their edit is kept in the form


def test_after_seeing_a_conflict_an_editor_can_deliberately_resubmit(article, login):
    shown = article.latest_summary
    client = login("editor")
    client.post(review_url(article), review_data(shown, "save", kp_text_1="First editor's words."))
    conflict = client.post(review_url(article), review_data(shown, "save", kp_text_1="Second words."))
    assert conflict.status_code == 409
    assert 'name="based_on_version" value="3"' in conflict.content.decode()

    again = client.post(
        review_url(article), review_data(shown, "save", kp_text_1="Second words.", based_on_version=3)
    )

    assert again.status_code == 302
    assert article.latest_summary.version == 4
    assert article.latest_summary.key_points[1]["text"] == "Second words."


def test_a_form_without_a_version_cannot_overwrite_an_existing_summary(article, login):
    before = _snapshot(article)

    response = login("editor").post(
        review_url(article), review_data(article.latest_summary, "save", based_on_version="", kp_text_1="X.")
    )

    assert response.status_code == 409
    assert _snapshot(article) == before


def test_approving_clears_a_reader_report(article, login, reader):
    Article.objects.filter(pk=article.pk).update(needs_attention=True)
    AuditEntry.record(
        "claim.reported",
        actor=reader,
        article=article,
        claim="kp:1",
        quoted_claim="Commutes could be cut in half.",
        comment="The study said a quarter, not half.",
    )
    client = login("editor")
    html = client.get(review_url(article)).content.decode()
    assert "“Commutes could be cut in half.” — <q>The study said a quarter, not half.</q>" in html

    client.post(review_url(article), review_data(article.latest_summary, "approve"))

    article.refresh_from_db()
    assert article.needs_attention is False
    assert article.status == Article.Status.PUBLISHED


# --- the queue ---------------------------------------------------------------------------------------


def test_the_queue_shows_articles_in_review_oldest_first_by_default(login, db):
    newer = factories.make_review_article(title="Newer story")
    older = factories.make_review_article(title="Older story")
    Article.objects.filter(pk=older.pk).update(status_changed_at=timezone.now() - timedelta(hours=3))
    factories.make_published_article(title="Published story")

    response = login("editor").get(QUEUE_URL)

    titles = [a.title for a in response.context["cl"].result_list]
    assert titles == ["Older story", "Newer story"]
    assert newer.pk  # both listed, oldest first
    everything = login("editor").get(QUEUE_URL + "?status=all")
    assert len(everything.context["cl"].result_list) == 3


def test_the_queue_lists_a_live_article_whose_regenerated_version_awaits_review(login, db):
    live = factories.make_published_article(title="Live story, new version waiting")
    Summary.create_version(article=live, **factories.summary_fields(key_takeaway="A regenerated takeaway."))
    Article.objects.filter(pk=live.pk).update(needs_attention=True)
    factories.make_published_article(title="Live story, nothing waiting")
    factories.make_review_article(title="Story in review")

    response = login("editor").get(QUEUE_URL)

    titles = {a.title for a in response.context["cl"].result_list}
    assert titles == {"Live story, new version waiting", "Story in review"}
    published = login("editor").get(QUEUE_URL + "?status=published").context["cl"].result_list
    assert len(published) == 2  # an explicit status still means exactly that status


def test_approving_a_regenerated_version_from_the_review_screen_publishes_it_as_a_correction(login, db):
    live = factories.make_published_article()
    new = Summary.create_version(
        article=live, **factories.summary_fields(key_takeaway="A regenerated takeaway.")
    )
    Article.objects.filter(pk=live.pk).update(needs_attention=True)

    response = login("editor").post(review_url(live), review_data(new, "approve"))

    assert response.status_code == 302
    live.refresh_from_db()
    assert live.status == Article.Status.PUBLISHED and live.current_summary == new
    assert live.corrected_at is not None and not live.needs_attention


def test_the_queue_filters_by_flag_and_searches_titles(login, db):
    factories.make_review_article(title="Grounded bridge story")
    factories.make_review_article(title="Shaky tunnel story", summary={"grounding_score": 0.5})
    client = login("editor")

    flagged = client.get(QUEUE_URL + "?flag=flagged").context["cl"].result_list
    grounded = client.get(QUEUE_URL + "?flag=grounded").context["cl"].result_list
    searched = client.get(QUEUE_URL + "?q=tunnel").context["cl"].result_list

    assert [a.title for a in flagged] == ["Shaky tunnel story"]
    assert [a.title for a in grounded] == ["Grounded bridge story"]
    assert [a.title for a in searched] == ["Shaky tunnel story"]


def test_the_queue_shows_grounding_cost_and_producer_in_a_bounded_number_of_queries(login, db):
    for n in range(3):
        article = factories.make_review_article(summary={"producer": f"model-{n}"})
        for cost in ("0.0100", "0.0025"):  # a failed call and the one that worked
            ModelCall.objects.create(article=article, backend="anthropic", model="m", cost_usd=Decimal(cost))
    client = login("editor")
    client.get(QUEUE_URL)  # warm the session and permission caches

    with CaptureQueriesContext(connection) as few:
        client.get(QUEUE_URL)
    for _ in range(10):
        factories.make_review_article()
    with CaptureQueriesContext(connection) as many:
        response = client.get(QUEUE_URL)

    assert len(many.captured_queries) == len(few.captured_queries)
    html = response.content.decode()
    assert "0.0125" in html and "model-2" in html


def test_bulk_approve_names_the_flagged_articles_it_skipped(login, db):
    clean = factories.make_review_article(title="Clean story")
    weak = factories.make_review_article(title="Weak story", summary={"grounding_score": 0.5})

    response = login("editor").post(
        QUEUE_URL,
        {"action": "approve_selected", "_selected_action": [clean.pk, weak.pk], "index": "0"},
        follow=True,
    )

    html = response.content.decode()
    assert "Approved and published 1 article(s)." in html
    assert "Skipped “Weak story”: its summary is flagged by the grounding check." in html
    assert Article.objects.get(pk=weak.pk).status == Article.Status.IN_REVIEW


def test_bulk_reject_without_a_reason_rejects_nothing(login, db):
    article = factories.make_review_article()

    response = login("editor").post(
        QUEUE_URL, {"action": "reject_selected", "_selected_action": [article.pk], "index": "0"}, follow=True
    )

    assert "a rejection needs a reason" in response.content.decode()
    assert Article.objects.get(pk=article.pk).status == Article.Status.IN_REVIEW


# --- the desk home and the audit log -------------------------------------------------------------------


def test_the_desk_home_shows_counts_spend_failures_and_failing_sources(login, db, settings):
    settings.SUMMARY_DAILY_BUDGET_USD = Decimal("2.00")
    factories.make_review_article(title="Waiting story")
    factories.make_article(title="Broken story", status=Article.Status.FAILED, status_reason="HTTP 500")
    factories.make_source(name="Flaky Feed", consecutive_failures=4, last_error_class="timeout")
    ModelCall.objects.create(backend="anthropic", model="m", outcome="ok", cost_usd=Decimal("0.50"))

    response = login("editor").get("/admin/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Waiting story" in html
    assert "$0.50 / $2.00" in html and "(25%)" in html
    assert "Broken story" in html and "HTTP 500" in html
    assert (
        reverse("admin:articles_article_retry", args=[Article.objects.get(title="Broken story").pk]) in html
    )
    assert "Flaky Feed" in html and reverse("admin:articles_source_changelist") in html


def test_staff_without_article_access_get_the_plain_admin_index(login, db):
    factories.make_review_article(title="Waiting story")

    response = login("other_staff").get("/admin/")

    assert response.status_code == 200
    assert "Waiting story" not in response.content.decode()
    assert "desk" not in response.context


def test_the_audit_log_can_be_filtered_by_action(login, article, editor):
    services.article_reject(article=article, editor=editor, reason="Not news.")
    AuditEntry.record("summary.edit", actor=editor, article=article)

    response = login("editor").get(reverse("admin:articles_auditentry_changelist") + "?action=reject")

    assert [e.action for e in response.context["cl"].result_list] == ["reject"]


def test_editors_can_switch_auto_publish_on_a_source(login, db):
    source = factories.make_source()

    html = login("editor").get(reverse("admin:articles_source_change", args=[source.pk])).content.decode()

    assert 'name="auto_publish"' in html
    assert source.auto_publish is False


def test_choosing_topics_on_the_review_screen_is_saved_and_audited(article, login):
    transport = factories.make_topic("Transport")

    response = login("editor").post(
        review_url(article), review_data(article.latest_summary, "save", topics=[transport.pk])
    )

    assert response.status_code == 302
    assert list(article.topics.all()) == [transport]
    entry = AuditEntry.objects.get(article=article, action="topics.change")
    assert entry.details == {"topics": ["Transport"]}
    assert article.summaries.count() == 2  # the summary itself did not change


def test_summary_versions_cannot_be_edited_in_place_through_the_admin(article, login):
    first = article.summaries.get(version=1)

    response = login("editor").post(
        reverse("admin:articles_summary_change", args=[first.pk]), {"key_takeaway": "Rewritten history."}
    )

    assert response.status_code == 403
    first.refresh_from_db()
    assert first.key_takeaway != "Rewritten history."


def test_the_review_screen_needs_the_same_number_of_queries_however_long_the_history(article, login, editor):
    client = login("editor")
    client.get(review_url(article))

    with CaptureQueriesContext(connection) as short:
        client.get(review_url(article))
    for n in range(5):
        services.summary_save_draft(
            article=article,
            editor=editor,
            edit=versions.SummaryEdit(
                key_takeaway=f"Takeaway {n}.",
                key_points=article.latest_summary.key_points,
                faq=article.latest_summary.faq,
            ),
            based_on_version=article.latest_summary.version,
        )
    with CaptureQueriesContext(connection) as long:
        response = client.get(review_url(article))

    assert response.status_code == 200
    assert "Takeaway 4." in response.content.decode()
    assert len(long.captured_queries) == len(short.captured_queries)


def test_the_desk_home_needs_the_same_number_of_queries_however_much_is_failing(login, db):
    client = login("editor")
    factories.make_article(status=Article.Status.FAILED)
    factories.make_source(consecutive_failures=1)
    client.get("/admin/")

    with CaptureQueriesContext(connection) as few:
        client.get("/admin/")
    for _ in range(5):
        factories.make_article(status=Article.Status.FAILED)
        factories.make_source(consecutive_failures=2)
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/")

    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_review_screen_links_to_the_audit_log_filtered_to_its_article(login, article, editor):
    other = factories.make_review_article()
    services.article_reject(article=article, editor=editor, reason="Not news.")
    services.article_reject(article=other, editor=editor, reason="Also not news.")
    client = login("editor")

    audit_url = client.get(review_url(article)).context["audit_url"]
    response = client.get(audit_url)

    assert response.status_code == 200
    assert [e.reason for e in response.context["cl"].result_list] == ["Not news."]


def test_an_article_without_a_summary_can_be_opened_but_not_approved(login, db):
    article = factories.make_article(status=Article.Status.EXTRACTED, title="Not summarised yet")
    client = login("editor")

    page = client.get(review_url(article))
    assert page.status_code == 200
    assert "No summary yet." in page.content.decode()
    assert 'value="approve"' not in page.content.decode()

    response = client.post(
        review_url(article),
        review_data(
            None,
            "approve",
            key_takeaway="Something.",
            kp_text_0="One.",
            kp_text_1="Two.",
            kp_text_2="Three.",
            based_on_version=0,
        ),
    )
    assert response.status_code == 200
    assert "cannot be approved" in response.content.decode()
    assert article.summaries.count() == 0


def test_every_demo_article_opens_on_the_desk_with_its_evidence_highlighted(login, db):
    from django.core.management import call_command

    call_command("seed_demo")
    client = login("editor")

    from articles.demo_content import DESK_STATES

    flagged = {title for title, state in DESK_STATES.items() if state == "unverified"}
    assert client.get("/admin/").status_code == 200
    for article in Article.objects.all():
        response = client.get(review_url(article))
        assert response.status_code == 200
        if article.duplicate_of_id:
            continue  # the demo's republished copy: never summarised, nothing to highlight
        assert '<mark class="evidence">' in response.content.decode()
        # Only the draft seeded with a fabricated quote shows the unverified badge.
        badge = 'class="desk-badge">unverified' in response.content.decode()
        assert badge == (article.title in flagged), article.title


def test_a_bulk_action_acts_on_the_selected_rows_even_outside_the_default_in_review_list(login, db):
    published = factories.make_published_article(title="Live story")

    login("editor").post(
        QUEUE_URL,
        {
            "action": "reject_selected",
            "_selected_action": [published.pk],
            "index": "0",
            "reason": "Retracted.",
        },
    )

    assert Article.objects.get(pk=published.pk).status == Article.Status.REJECTED


def test_the_audit_log_needs_the_same_number_of_queries_however_many_entries(login, article, editor):
    client = login("editor")
    url = reverse("admin:articles_auditentry_changelist")
    AuditEntry.record("reject", actor=editor, article=article, reason="one")
    client.get(url)

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(10):
        AuditEntry.record(
            "summary.edit", actor=editor, article=factories.make_review_article(), reason=str(n)
        )
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many.captured_queries) == len(few.captured_queries)


def test_readers_see_a_corrected_note_after_an_editor_changes_a_published_summary(
    published_article, login, client, django_capture_on_commit_callbacks
):
    url = published_article.get_absolute_url()
    assert "was corrected on" not in client.get(url).content.decode()  # now in the page cache

    # The cached anonymous page is invalidated when the edit commits.
    with django_capture_on_commit_callbacks(execute=True):
        login("editor").post(
            review_url(published_article),
            review_data(published_article.current_summary, "approve", kp_text_0="The council voted 9 to 2."),
        )
    client.logout()

    html = client.get(url).content.decode()
    assert "The council voted 9 to 2." in html
    assert f"This summary was corrected on {timezone.now():%-d %B %Y}." in html


def test_the_bulk_retry_action_sends_failed_articles_back_through_the_pipeline(
    admin_client, plain_static, eager_celery, django_capture_on_commit_callbacks
):
    article = factories.make_article(status=Article.Status.FAILED)
    done = factories.make_review_article()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/articles/article/",
            {"action": "retry_selected", "_selected_action": [article.pk, done.pk]},
            follow=True,
        )

    assert response.status_code == 200
    article.refresh_from_db()
    # Eager Celery: the extractive backend has already summarised it.
    assert article.status == Article.Status.IN_REVIEW
    assert AuditEntry.objects.get(article=article, action="retry").actor is not None
    assert "Only failed articles can be retried" in response.content.decode()  # the other one
    assert not AuditEntry.objects.filter(article=done, action="retry").exists()


def test_regenerate_on_the_review_screen_writes_a_new_version_with_the_note(
    login, article, eager_celery, plain_static, django_capture_on_commit_callbacks
):
    latest = article.latest_summary
    url = reverse("admin:articles_article_change", args=[article.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = login("editor").post(url, review_data(latest, "regenerate", note="Shorter, please."))

    assert response.status_code == 302
    article.refresh_from_db()
    newest = article.latest_summary
    assert newest.version == latest.version + 1 and newest.editor_note == "Shorter, please."
    assert article.status == Article.Status.IN_REVIEW


def test_the_retry_button_sends_a_failed_article_with_text_on_to_a_summary(
    login, db, eager_celery, plain_static, django_capture_on_commit_callbacks
):
    article = factories.make_article(status=Article.Status.FAILED, status_reason="timeout")

    with django_capture_on_commit_callbacks(execute=True):
        login("editor").post(reverse("admin:articles_article_retry", args=[article.pk]))

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW and article.latest_summary is not None


# --- stories ----------------------------------------------------------------------------------------

STORIES_URL = "/admin/articles/story/"
STORIES_WAITING_URL = STORIES_URL + "?review=waiting"


def story_url(story) -> str:
    return reverse("admin:articles_story_change", args=[story.pk])


def story_of(*articles: tuple[str, str, str], title: str = "A story") -> tuple[Story, list[Article]]:
    """A story of articles given as (title, source name, status); the first leads it."""
    story = factories.make_story(title=title)
    made = []
    for n, (article_title, source_name, status) in enumerate(articles):
        source = Source.objects.filter(name=source_name).first() or factories.make_source(name=source_name)
        maker = (
            factories.make_review_article if status == Article.Status.IN_REVIEW else factories.make_article
        )
        extra = {} if status == Article.Status.IN_REVIEW else {"status": status}
        made.append(
            maker(
                story=Story.objects.get(pk=story.pk),
                source=source,
                title=article_title,
                published_at=timezone.now() - timedelta(hours=10 - n),
                **extra,
            )
        )
    story.refresh_from_db()
    return story, made


@pytest.mark.parametrize(
    ("who", "status"),
    [("editor", 200), ("moderator", 200), ("other_staff", 403), ("reader", 302), ("anonymous", 302)],
)
def test_the_story_list_and_a_story_page_are_open_to_editors_and_moderators(who, status, login, db):
    story, _ = story_of(("Flood warning", "Coast Daily", Article.Status.EXTRACTED))
    client = login(who)

    assert client.get(STORIES_URL).status_code == status
    assert client.get(story_url(story)).status_code == status


def test_the_story_list_shows_sources_counts_seen_times_and_the_editor_lock(login, db, editor):
    story, (first, _) = story_of(
        ("Flood warning issued", "Coast Daily", Article.Status.EXTRACTED),
        ("Floods expected", "River Post", Article.Status.EXTRACTED),
        title="Flood warning issued",
    )
    services_stories.story_set_lead(story=story, article=first, by=editor)

    response = login("editor").get(STORIES_URL)

    html = response.content.decode()
    row = response.context["cl"].result_list[0]
    assert row.pk == story.pk and "Coast Daily, River Post" in html
    assert row.article_count == 2 and row.editor_locked
    assert story_url(story) in html


def test_stories_awaiting_review_show_one_row_per_story_with_its_sources(login, db):
    waiting, (a, b, _) = story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.IN_REVIEW),
        ("Storm batters coast", "River Post", Article.Status.IN_REVIEW),
        ("Storm: a copy", "Wire Mirror", Article.Status.EXTRACTED),
        title="Storm hits coast",
    )
    story_of(("Quiet day", "Coast Daily", Article.Status.EXTRACTED), title="Quiet day")
    client = login("editor")

    response = client.get(STORIES_WAITING_URL)

    html = response.content.decode()
    assert [s.pk for s in response.context["cl"].result_list] == [waiting.pk]
    assert "Stories awaiting review" in html
    assert "Coast Daily, River Post, Wire Mirror" in html
    queue = f"/admin/articles/article/?story__id__exact={waiting.pk}"
    assert f'<a href="{queue}">2 waiting</a>' in html.replace("&amp;", "&")
    # The link opens the per-article queue with exactly that story's waiting articles.
    listed = client.get(queue).context["cl"].result_list
    assert {x.pk for x in listed} == {a.pk, b.pk}


def test_stories_awaiting_review_need_the_same_number_of_queries_for_3_or_30_stories(login, db):
    def add_stories(n: int) -> None:
        for i in range(n):
            story_of(
                (f"Event {i}", "Coast Daily", Article.Status.IN_REVIEW),
                (f"Event {i} again", "River Post", Article.Status.IN_REVIEW),
                title=f"Event {i}",
            )

    client = login("editor")
    add_stories(3)
    client.get(STORIES_WAITING_URL)  # warm the session and permission caches

    with CaptureQueriesContext(connection) as few:
        client.get(STORIES_WAITING_URL)
    add_stories(27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(STORIES_WAITING_URL)

    assert len(response.context["cl"].result_list) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_story_page_lists_articles_with_source_status_copy_and_lead(login, db):
    story, (lead, other) = story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.IN_REVIEW),
        ("Storm batters coast", "River Post", Article.Status.EXTRACTED),
        title="Storm hits coast",
    )
    copy = factories.make_article(
        story=story,
        duplicate_of=lead,
        title="Storm hits coast (syndicated)",
        source=factories.make_source(name="Wire Mirror"),
    )

    html = login("editor").get(story_url(story)).content.decode()

    for article in (lead, other, copy):
        assert review_url(article) in html
    assert "Coast Daily" in html and "River Post" in html and "Wire Mirror" in html
    assert f'<td><a href="{review_url(lead)}">Storm hits coast</a></td>' in html  # copy-of links the original
    assert "awaiting review" in html and "<strong>lead</strong>" in html
    assert 'value="merge"' in html and 'name="_popup"' not in html


def test_moderators_read_a_story_page_without_the_decision_buttons(login, db):
    story, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED))

    html = login("moderator").get(story_url(story)).content.decode()

    assert "Storm hits coast" in html and 'value="merge"' not in html


def test_the_story_page_needs_the_same_number_of_queries_for_3_or_30_articles(login, db, editor):
    story, (first, *_) = story_of(
        *[(f"Report {i}", f"Source {i}", Article.Status.IN_REVIEW) for i in range(3)], title="Report 0"
    )
    client = login("editor")
    client.get(story_url(story))

    with CaptureQueriesContext(connection) as few:
        client.get(story_url(story))
    for i in range(27):
        factories.make_review_article(
            story=Story.objects.get(pk=story.pk), duplicate_of=first if i % 2 else None
        )
    other, _ = story_of(("Elsewhere", "Coast Daily", Article.Status.EXTRACTED))
    services_stories.article_move(article=Article.objects.get(pk=first.pk), story=other, by=editor)
    with CaptureQueriesContext(connection) as many:
        response = client.get(story_url(story))

    assert response.status_code == 200 and len(response.context["articles"]) == 16  # 14 moved out
    assert len(many.captured_queries) == len(few.captured_queries)


def _story_decision(decision: str, story: Story, article: Article, other: Story) -> dict[str, object]:
    return {
        "action": decision,
        "article": article.pk,
        "target": other.pk if decision in ("move", "merge") else "",
        "reason": "Desk decision.",
    }


STORY_DECISIONS = {
    "lead": lambda story, article, other: Story.objects.get(pk=story.pk).lead_id == article.pk,
    "split": lambda story, article, other: (
        Article.objects.get(pk=article.pk).story_id not in (story.pk, other.pk)
    ),
    "move": lambda story, article, other: Article.objects.get(pk=article.pk).story_id == other.pk,
    "merge": lambda story, article, other: Story.objects.get(pk=story.pk).merged_into_id == other.pk,
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("decision", list(STORY_DECISIONS))
def test_only_editors_take_decisions_on_the_story_page(who, decision, login, db):
    story, (_, second) = story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED),
        ("Local team wins", "River Post", Article.Status.EXTRACTED),
    )
    other, _ = story_of(("Sports round-up", "Coast Daily", Article.Status.EXTRACTED))
    before = sorted(Article.objects.values_list("pk", "story_id"))

    response = login(who).post(story_url(story), _story_decision(decision, story, second, other))

    if who == "editor":
        assert response.status_code == 302
        assert STORY_DECISIONS[decision](story, second, other)
        entry = AuditEntry.objects.get()
        assert entry.actor.email == "editor@example.com" and entry.reason == "Desk decision."
    else:
        _assert_denied(who, response)
        assert sorted(Article.objects.values_list("pk", "story_id")) == before
        assert not AuditEntry.objects.exists()


def test_a_refused_decision_is_shown_on_the_story_page_and_changes_nothing(login, db):
    story, (lead,) = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED))
    client = login("editor")

    same = client.post(story_url(story), {"action": "move", "article": lead.pk, "target": story.pk})
    no_target = client.post(story_url(story), {"action": "move", "article": lead.pk, "target": ""})
    alone = client.post(story_url(story), {"action": "split", "article": lead.pk})

    assert "is already in that story" in same.content.decode()
    assert "Give the number of the other story." in no_target.content.decode()
    assert "is already the only article of its story" in alone.content.decode()
    assert Article.objects.get(pk=lead.pk).story_id == story.pk and not AuditEntry.objects.exists()


def test_an_article_of_another_story_cannot_be_chosen_on_a_story_page(login, db):
    story, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED))
    _, (stranger,) = story_of(("Elsewhere", "River Post", Article.Status.EXTRACTED))

    response = login("editor").post(story_url(story), {"action": "lead", "article": stranger.pk})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Story.objects.get(pk=story.pk).lead_id != stranger.pk


def test_merging_selected_stories_asks_which_to_keep_then_merges_the_others_into_it(login, db):
    big, _ = story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED),
        ("Storm batters coast", "River Post", Article.Status.EXTRACTED),
    )
    small, _ = story_of(("Coast storm", "Wire Mirror", Article.Status.EXTRACTED))
    other, _ = story_of(("Another storm story", "Bay News", Article.Status.EXTRACTED))
    client = login("editor")
    selected = {"action": "merge_selected", "_selected_action": [big.pk, small.pk, other.pk]}

    confirm = client.post(STORIES_URL, {**selected, "index": "0"})
    assert confirm.status_code == 200
    assert f'value="{big.pk}"' in confirm.content.decode() and not AuditEntry.objects.exists()

    done = client.post(STORIES_URL, {**selected, "into": small.pk, "reason": "One storm."}, follow=True)

    assert done.redirect_chain[-1][0] == story_url(small)
    assert "Merged 2 story(ies) into" in done.content.decode()
    assert Story.objects.get(pk=small.pk).article_count == 4
    assert {s.merged_into_id for s in Story.objects.filter(pk__in=[big.pk, other.pk])} == {small.pk}
    assert AuditEntry.objects.filter(action="story_merge", reason="One storm.").count() == 2


def test_merging_needs_at_least_two_stories(login, db):
    story, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED))

    response = login("editor").post(
        STORIES_URL, {"action": "merge_selected", "_selected_action": [story.pk], "index": "0"}, follow=True
    )

    assert "Select at least two stories to merge." in response.content.decode()
    assert Story.objects.get(pk=story.pk).merged_into is None


def test_stories_merged_away_are_hidden_from_the_list_and_their_page_points_on(login, db, editor):
    kept, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED), title="Kept")
    gone, _ = story_of(("Coast storm", "Wire Mirror", Article.Status.EXTRACTED), title="Gone")
    services_stories.story_merge(story=gone, into=kept, by=editor)
    client = login("editor")

    listed = [s.pk for s in client.get(STORIES_URL).context["cl"].result_list]
    merged = [s.pk for s in client.get(STORIES_URL + "?merged=yes").context["cl"].result_list]
    page = client.get(story_url(gone)).content.decode()

    assert listed == [kept.pk] and merged == [gone.pk]
    assert "This story was merged into" in page and story_url(kept) in page
    assert 'value="merge"' not in page


def test_stories_can_be_found_by_number_and_picked_in_the_lookup_popup(login, db):
    story, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED), title="Storm")
    story_of(("Quiet day", "River Post", Article.Status.EXTRACTED), title="Quiet")
    client = login("editor")

    by_number = client.get(STORIES_URL + f"?q=%23{story.pk}").context["cl"].result_list
    popup = client.get(STORIES_URL + "?_popup=1&_to_field=id&q=storm")

    assert [s.pk for s in by_number] == [story.pk]
    assert popup.status_code == 200 and [s.pk for s in popup.context["cl"].result_list] == [story.pk]


def test_the_review_screen_links_to_the_articles_story(login, db):
    story, (article,) = story_of(("Storm hits coast", "Coast Daily", Article.Status.IN_REVIEW))

    html = login("editor").get(review_url(article)).content.decode()

    assert story_url(story) in html


def test_the_desk_home_links_the_stories_awaiting_review_and_counts_what_copies_and_stories_cover(login, db):
    story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.IN_REVIEW),
        ("Storm batters coast", "River Post", Article.Status.IN_REVIEW),
    )
    original = factories.make_article()
    for _ in range(3):
        factories.make_article(story=original.story, duplicate_of=original)
    factories.make_article(duplicate_of=original, fetched_at=timezone.now() - timedelta(days=2))
    for cost in ("0.0200", "0.0400"):
        ModelCall.objects.create(backend="anthropic", model="m", outcome="ok", cost_usd=Decimal(cost))

    html = login("editor").get("/admin/").content.decode()

    assert "1 story awaiting review" in html and STORIES_WAITING_URL.replace("&", "&amp;") in html
    assert "Model calls avoided: duplicates and copies never summarised <strong>3</strong>" in html
    # The story's second report is covered by the summary of its lead; copies count above only.
    assert "Reports covered by their story's summary <strong>1</strong>" in html
    assert "≈ $0.09 saved at today's average of $0.0300 per call" in html


def test_copies_an_editor_had_summarised_are_not_counted_as_model_calls_avoided(login, db, fake_anthropic):
    original = factories.make_article()
    never, summarised, failed, extractive = (
        factories.make_article(story=original.story, duplicate_of=original) for _ in range(4)
    )
    # The pipeline never summarises a copy; an editor can still force one through: by the
    # model, by the model when the call fails, or by the extractive backend (no call).
    call_command("summarize", article=[summarised.pk], force=True, stdout=StringIO())
    fake_anthropic.script.append(error(400, "invalid_request_error", "Bad request"))
    call_command("summarize", article=[failed.pk], force=True, stdout=StringIO())
    call_command("summarize", article=[extractive.pk], force=True, backend="extractive", stdout=StringIO())
    for copy in (summarised, failed, extractive):
        copy.refresh_from_db()
    assert summarised.status == extractive.status == Article.Status.IN_REVIEW
    assert summarised.summaries.exists() and extractive.summaries.exists()
    assert failed.status == Article.Status.FAILED and not failed.summaries.exists()
    assert ModelCall.objects.filter(article__in=[summarised, failed]).count() == 2
    assert not ModelCall.objects.filter(article=extractive).exists()

    html = login("editor").get("/admin/").content.decode()

    # Two made a call and one was summarised: only the copy never summarised is counted.
    assert "Model calls <strong>2</strong>" in html
    assert "Model calls avoided: duplicates and copies never summarised <strong>1</strong>" in html
    assert never.summaries.count() == 0 and not ModelCall.objects.filter(article=never).exists()


def test_a_story_page_lists_the_decisions_that_moved_articles_in_or_out_of_it(login, db, editor):
    source, (_, moved) = story_of(
        ("Storm hits coast", "Coast Daily", Article.Status.EXTRACTED),
        ("Local team wins", "River Post", Article.Status.EXTRACTED),
    )
    target, _ = story_of(("Sports round-up", "Bay News", Article.Status.EXTRACTED))
    unrelated, _ = story_of(("Elsewhere", "Bay News", Article.Status.EXTRACTED))
    services_stories.article_move(article=moved, story=target, by=editor, reason="Sport, not weather.")
    client = login("editor")

    for story in (source, target):
        entries = client.get(story_url(story)).context["audit_entries"]
        assert [(e.action, e.reason) for e in entries] == [("article_move", "Sport, not weather.")]
    assert not client.get(story_url(unrelated)).context["audit_entries"]


# --- summaries follow the stories as editors shape them ------------------------------------------


def reports_of_one_story(*events: tuple[str, str]) -> list[Article]:
    """A story of one extracted report per event, each from its own source, an hour apart; the
    first leads it."""
    story = factories.make_story()
    made = [
        factories.make_article(
            story=story,
            title=title,
            extracted_text=text,
            published_at=timezone.now() - timedelta(hours=9 - n),
        )
        for n, (title, text) in enumerate(events)
    ]
    story.refresh_from_db()
    return made


def cited(summary: Summary) -> list[int]:
    """The articles a story summary cites in its points and answers (by source number)."""
    number_of = {row["n"]: row["article_id"] for row in summary.sources}
    rows = [*summary.key_points, *summary.faq]
    return sorted({number_of[c["source"]] for row in rows for c in row.get("citations", [])})


def test_moving_a_report_out_rewrites_the_summary_of_the_story_it_left_without_it(
    login, editor, eager_celery, fake_anthropic, tasks_run, django_capture_on_commit_callbacks
):
    vote, rewrite, hearing = reports_of_one_story(RAIL, RAIL_REWRITE, HEARING)
    summarize_article(vote.pk)
    vote.refresh_from_db()
    first = vote.latest_summary
    assert cited(first) == sorted([vote.pk, rewrite.pk, hearing.pk])
    vote.publish(first, by=editor)
    hearings, _ = story_of(("Town hall hearing on the route", "Bay News", Article.Status.IN_REVIEW))

    with django_capture_on_commit_callbacks(execute=True):
        response = login("editor").post(
            story_url(vote.story), {"action": "move", "article": hearing.pk, "target": hearings.pk}
        )

    assert response.status_code == 302
    vote.refresh_from_db()
    second = vote.latest_summary
    assert second.version == 2 and cited(second) == sorted([vote.pk, rewrite.pk])
    assert hearing.pk not in {row["article_id"] for row in second.sources}
    rewrite_request = [r for r in fake_anthropic.requests if RAIL[0] in user_content(r)][-1]
    assert "Harbour Street" not in user_content(rewrite_request)  # the hearing's text
    # The usual rules: the approved version stays live while the rewrite waits for an editor.
    assert vote.status == Article.Status.PUBLISHED and vote.needs_attention
    assert vote.current_summary == first
    refreshed = [args for name, args in tasks_run if name == "articles.tasks.refresh_story_summary"]
    # Both stories were weighed, once each by the decision (the old one again after its
    # rewrite, as the pipeline does after every summary).
    assert refreshed[:2] == [(vote.story_id,), (hearings.pk,)]
    assert set(refreshed) == {(vote.story_id,), (hearings.pk,)}


def test_a_report_split_out_is_summarised_as_the_lead_of_its_own_story(
    login, editor, eager_celery, fake_anthropic, django_capture_on_commit_callbacks
):
    vote, rewrite, hearing = reports_of_one_story(RAIL, RAIL_REWRITE, HEARING)
    summarize_article(vote.pk)

    with django_capture_on_commit_callbacks(execute=True):
        login("editor").post(story_url(vote.story), {"action": "split", "article": hearing.pk})

    hearing.refresh_from_db()
    assert hearing.story.lead_id == hearing.pk and hearing.story_id != vote.story_id
    assert hearing.status == Article.Status.IN_REVIEW and hearing.latest_summary.version == 1
    vote.refresh_from_db()
    assert cited(vote.latest_summary) == sorted([vote.pk, rewrite.pk])


@pytest.mark.parametrize("door", ["story page", "story list"])
def test_a_merge_queues_one_refresh_of_the_kept_story_and_none_of_the_story_merged_away(
    door, login, db, eager_celery, tasks_run, django_capture_on_commit_callbacks
):
    kept, _ = story_of(("Storm hits coast", "Coast Daily", Article.Status.IN_REVIEW))
    gone, _ = story_of(
        ("Coast storm", "Wire Mirror", Article.Status.EXTRACTED),
        ("Storm: the clean-up", "River Post", Article.Status.EXTRACTED),
    )
    client = login("editor")

    with django_capture_on_commit_callbacks(execute=True):
        if door == "story page":
            client.post(story_url(kept), {"action": "merge", "target": gone.pk})
            kept, gone = gone, kept  # the page's story is merged into the story named
        else:
            selected = {"action": "merge_selected", "_selected_action": [kept.pk, gone.pk]}
            client.post(STORIES_URL, {**selected, "into": kept.pk})

    assert Story.objects.get(pk=gone.pk).merged_into_id == kept.pk
    assert tasks_run == [("articles.tasks.refresh_story_summary", (kept.pk,))]
