"""The desk's services: versions, conflicts, transitions and their audit entries, bulk and
scheduled publishing. The admin screens on top of them are tested in test_admin_desk.py."""

from __future__ import annotations

import copy
import os
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from articles.desk import evidence, overview, services, versions
from articles.models import Article, AuditEntry, Summary
from articles.summarizers import workflow
from tests import factories

# The cast's users are created with a password; tests/conftest.py hashes them fast.
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def article(db):
    return factories.make_review_article()


def edited(summary: Summary, *, point: int = 0, text: str = "An edited key point.") -> versions.SummaryEdit:
    points = copy.deepcopy(summary.key_points)
    points[point]["text"] = text
    return versions.SummaryEdit(key_takeaway=summary.key_takeaway, key_points=points, faq=summary.faq)


def actions(article: Article) -> list[str]:
    return list(AuditEntry.objects.filter(article=article).order_by("id").values_list("action", flat=True))


# --- versions --------------------------------------------------------------------------


def test_saving_a_draft_adds_an_editor_version_and_leaves_the_ai_version_untouched(article, editor):
    ai = article.latest_summary

    saved = services.summary_save_draft(article=article, editor=editor, edit=edited(ai), based_on_version=1)

    assert saved.version == 2
    assert saved.kind == Summary.Kind.EDITOR
    assert saved.created_by == editor
    assert saved.key_points[0]["text"] == "An edited key point."
    ai.refresh_from_db()
    assert ai.key_points[0]["text"] == "The council voted to build a light-rail line."
    assert actions(article) == ["summary.edit"]
    assert AuditEntry.objects.get(article=article).actor == editor


def test_saving_an_unchanged_draft_adds_no_version(article, editor):
    ai = article.latest_summary

    saved = services.summary_save_draft(
        article=article, editor=editor, edit=versions.SummaryEdit.of(ai), based_on_version=1
    )

    assert saved.pk == ai.pk
    assert article.summaries.count() == 1
    assert actions(article) == []


def test_a_save_based_on_an_old_version_is_refused_and_changes_nothing(article, editor):
    ai = article.latest_summary
    services.summary_save_draft(
        article=article, editor=editor, edit=edited(ai, text="First editor."), based_on_version=1
    )

    with pytest.raises(services.StaleVersion) as conflict:
        services.summary_save_draft(
            article=article, editor=editor, edit=edited(ai, text="Second editor."), based_on_version=1
        )

    assert conflict.value.based_on.version == 1
    assert conflict.value.current.version == 2
    assert article.summaries.count() == 2
    assert article.latest_summary.key_points[0]["text"] == "First editor."
    diff = versions.summary_diff(conflict.value.based_on, conflict.value.current)
    assert ("added", "What happened: First editor.") in diff


def test_restoring_an_old_version_copies_it_forward_as_the_newest(article, editor):
    ai = article.latest_summary
    services.summary_save_draft(article=article, editor=editor, edit=edited(ai), based_on_version=1)

    restored = services.summary_restore(article=article, editor=editor, version=1, based_on_version=2)

    assert restored.version == 3
    assert restored.key_points == ai.key_points
    assert restored.editor_note == "Restored version 1."
    assert list(article.summaries.order_by("version").values_list("version", flat=True)) == [1, 2, 3]
    assert actions(article) == ["summary.edit", "summary.restore"]


def test_restoring_a_version_that_does_not_exist_is_refused(article, editor):
    with pytest.raises(services.DeskError):
        services.summary_restore(article=article, editor=editor, version=9, based_on_version=1)
    assert article.summaries.count() == 1


# --- approve ---------------------------------------------------------------------------


def test_approving_publishes_the_edit_and_records_who_did_it(article, editor):
    article.needs_attention = True
    article.save()

    summary = services.article_approve(
        article=article, editor=editor, based_on_version=1, edit=edited(article.latest_summary)
    )

    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    assert article.published_on_site_at is not None
    assert article.corrected_at is None
    assert article.needs_attention is False
    assert article.current_summary == summary
    assert summary.approved_by == editor
    assert actions(article) == ["summary.edit", "publish"]
    entry = AuditEntry.objects.get(article=article, action="publish")
    assert (entry.from_status, entry.to_status, entry.actor) == ("in_review", "published", editor)


def test_changing_a_published_summary_marks_the_article_corrected(published_article, editor):
    current = published_article.current_summary

    services.article_approve(
        article=published_article, editor=editor, based_on_version=1, edit=edited(current)
    )

    published_article.refresh_from_db()
    assert published_article.corrected_at is not None
    assert published_article.current_summary.version == 2


def test_approving_without_three_key_points_changes_nothing(article, editor):
    ai = article.latest_summary
    two_points = versions.SummaryEdit(key_takeaway=ai.key_takeaway, key_points=ai.key_points[:2], faq=ai.faq)

    with pytest.raises(ValidationError):
        services.article_approve(article=article, editor=editor, based_on_version=1, edit=two_points)

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.summaries.count() == 1
    assert actions(article) == []


def test_approving_an_empty_takeaway_changes_nothing(article, editor):
    ai = article.latest_summary
    empty = versions.SummaryEdit(key_takeaway="  ", key_points=ai.key_points, faq=ai.faq)

    with pytest.raises(ValidationError):
        services.article_approve(article=article, editor=editor, based_on_version=1, edit=empty)

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.summaries.count() == 1


def test_a_rejected_article_cannot_be_approved_without_going_back_to_review(article, editor):
    services.article_reject(article=article, editor=editor, reason="Off topic.")

    with pytest.raises(services.DeskError):
        services.article_approve(article=article, editor=editor, based_on_version=1)

    article.refresh_from_db()
    assert article.status == Article.Status.REJECTED


# --- reject, regenerate, retry -----------------------------------------------------------


def test_rejecting_needs_a_reason(article, editor):
    with pytest.raises(services.DeskError):
        services.article_reject(article=article, editor=editor, reason="   ")
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert actions(article) == []


def test_rejecting_records_the_transition_and_the_reason(article, editor):
    services.article_reject(article=article, editor=editor, reason="Press release, not news.")

    article.refresh_from_db()
    assert article.status == Article.Status.REJECTED
    assert article.status_reason == "Press release, not news."
    entry = AuditEntry.objects.get(article=article)
    assert (entry.action, entry.from_status, entry.to_status, entry.reason) == (
        "reject",
        "in_review",
        "rejected",
        "Press release, not news.",
    )


def test_rejecting_a_published_article_takes_it_off_the_site(published_article, editor):
    services.article_reject(article=published_article, editor=editor, reason="Wrong story.")

    assert not Article.objects.published().filter(pk=published_article.pk).exists()
    entry = AuditEntry.objects.get(article=published_article)
    assert (entry.from_status, entry.to_status) == ("published", "rejected")


def test_regenerating_records_the_note_and_leaves_the_claim_to_the_summary_task(article, editor):
    services.article_regenerate(article=article, editor=editor, note="Shorter, please.")

    entry = AuditEntry.objects.get(article=article)
    assert (entry.action, entry.actor, entry.reason) == ("regenerate", editor, "Shorter, please.")
    # The summaries task claims the article itself, so the desk leaves it where the task expects it.
    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW


def test_a_regenerated_article_comes_back_for_review_with_a_new_version(
    article, editor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        services.article_regenerate(article=article, editor=editor, note="Shorter, please.")
    # What the on-commit callback enqueues, run here in-process on both legs.
    workflow.article_summarize(article_id=article.pk, note="Shorter, please.", force=True)

    article.refresh_from_db()
    assert article.status == Article.Status.IN_REVIEW
    assert article.latest_summary.version == 2
    assert "summarize" in actions(article)


def test_regenerating_cancels_a_pending_schedule(article, editor, django_capture_on_commit_callbacks):
    services.article_schedule(
        article=article, editor=editor, when=timezone.now() + timedelta(hours=1), based_on_version=1
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.article_regenerate(article=article, editor=editor)

    article.refresh_from_db()
    assert article.scheduled_for is None


def test_an_article_still_being_summarised_cannot_be_regenerated(editor, django_capture_on_commit_callbacks):
    article = factories.make_article(status=Article.Status.SUMMARIZING)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(services.DeskError):
            services.article_regenerate(article=article, editor=editor)
    assert callbacks == []
    assert actions(article) == []


def test_retrying_a_failed_article_with_text_sends_it_back_to_summarising(editor):
    article = factories.make_article(status=Article.Status.FAILED)
    status = services.article_retry(article=article, editor=editor)

    article.refresh_from_db()
    assert status == article.status == Article.Status.EXTRACTED
    entry = AuditEntry.objects.get(article=article)
    assert (entry.action, entry.from_status, entry.to_status) == ("retry", "failed", "extracted")


def test_retrying_a_failed_article_without_text_sends_it_back_to_extraction(editor):
    article = factories.make_article(status=Article.Status.FAILED)
    Article.objects.filter(pk=article.pk).update(extracted_text="")
    status = services.article_retry(article=article, editor=editor)

    article.refresh_from_db()
    assert status == article.status == Article.Status.NEW
    assert AuditEntry.objects.get(article=article).to_status == "new"


def test_retrying_an_article_that_has_not_failed_is_refused(article, editor):
    with pytest.raises(services.DeskError):
        services.article_retry(article=article, editor=editor)


# --- schedule ------------------------------------------------------------------------------


def test_scheduling_in_the_past_is_refused(article, editor):
    with pytest.raises(services.DeskError):
        services.article_schedule(
            article=article, editor=editor, when=timezone.now() - timedelta(minutes=1), based_on_version=1
        )
    article.refresh_from_db()
    assert article.scheduled_for is None
    assert actions(article) == []


def test_running_the_scheduled_publisher_twice_publishes_once(article, editor):
    Article.objects.filter(pk=article.pk).update(scheduled_for=timezone.now() - timedelta(seconds=1))

    assert services.publish_scheduled_due() == [article.pk]
    assert services.publish_scheduled_due() == []
    assert AuditEntry.objects.filter(article=article, action="publish").count() == 1


def test_a_scheduled_publication_is_approved_by_the_editor_who_scheduled_it(article, editor, client):
    services.article_schedule(
        article=article, editor=editor, when=timezone.now() + timedelta(minutes=1), based_on_version=1
    )

    assert services.publish_scheduled_due(now=timezone.now() + timedelta(minutes=2)) == [article.pk]

    summary = article.summaries.get(version=1)
    assert summary.approved_by == editor
    publish = AuditEntry.objects.get(article=article, action="publish")
    assert (publish.actor, publish.automatic) == (editor, True)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "(sentences selected from the original, no AI model), reviewed by an editor</p>" in html
    assert "without editor review" not in html


def test_a_version_newer_than_the_schedule_is_published_without_an_approving_editor(article, editor):
    services.article_schedule(
        article=article, editor=editor, when=timezone.now() + timedelta(minutes=1), based_on_version=1
    )
    Summary.create_version(article=article, **factories.summary_fields())  # after the schedule was set

    assert services.publish_scheduled_due(now=timezone.now() + timedelta(minutes=2)) == [article.pk]

    assert article.summaries.get(version=2).approved_by is None


def test_a_rejected_article_is_not_published_by_its_old_schedule(article, editor):
    services.article_schedule(
        article=article, editor=editor, when=timezone.now() + timedelta(minutes=1), based_on_version=1
    )
    services.article_reject(article=article, editor=editor, reason="Changed our mind.")

    assert services.publish_scheduled_due(now=timezone.now() + timedelta(hours=1)) == []
    article.refresh_from_db()
    assert article.status == Article.Status.REJECTED


# --- bulk ------------------------------------------------------------------------------------


def test_bulk_approve_skips_flagged_summaries_and_names_them(editor):
    clean = factories.make_review_article(title="Clean story")
    weak = factories.make_review_article(title="Weakly grounded story", summary={"grounding_score": 0.66})
    warned = factories.make_review_article(
        title="Story with warnings", summary={"validation_warnings": ["FAQ answer too long"]}
    )
    reported = factories.make_review_article(title="Reported story", needs_attention=True)

    result = services.articles_approve_bulk(
        articles=Article.objects.filter(pk__in=[clean.pk, weak.pk, warned.pk, reported.pk]).order_by("pk"),
        editor=editor,
    )

    assert [a.title for a in result.done] == ["Clean story"]
    assert sorted(a.title for a, _why in result.skipped) == [
        "Reported story",
        "Story with warnings",
        "Weakly grounded story",
    ]
    statuses = dict(Article.objects.values_list("title", "status"))
    assert statuses["Clean story"] == Article.Status.PUBLISHED
    assert statuses["Weakly grounded story"] == Article.Status.IN_REVIEW
    assert statuses["Story with warnings"] == Article.Status.IN_REVIEW


def test_bulk_reject_uses_one_reason_for_all(editor):
    first, second = factories.make_review_article(), factories.make_review_article()

    result = services.articles_reject_bulk(
        articles=Article.objects.filter(pk__in=[first.pk, second.pk]),
        editor=editor,
        reason="Duplicate wire copy.",
    )

    assert len(result.done) == 2
    assert set(AuditEntry.objects.filter(action="reject").values_list("reason", flat=True)) == {
        "Duplicate wire copy."
    }


def test_bulk_reject_without_a_reason_changes_nothing(editor):
    first = factories.make_review_article()
    with pytest.raises(services.DeskError):
        services.articles_reject_bulk(articles=Article.objects.all(), editor=editor, reason="")
    first.refresh_from_db()
    assert first.status == Article.Status.IN_REVIEW


def test_bulk_regenerate_skips_articles_it_cannot_regenerate(editor):
    waiting = factories.make_review_article()
    busy = factories.make_article(status=Article.Status.SUMMARIZING)
    result = services.articles_regenerate_bulk(
        articles=Article.objects.filter(pk__in=[waiting.pk, busy.pk]).order_by("pk"), editor=editor
    )
    assert [a.pk for a in result.done] == [waiting.pk]
    assert [a.pk for a, _ in result.skipped] == [busy.pk]


# --- evidence and the desk home ------------------------------------------------------------------


def test_quotes_with_typographic_marks_are_highlighted_like_the_grounding_check_accepts_them():
    text = "The mayor said \u201cthe line\u2019s route is final\u201d \u2014 and left."

    html = evidence.highlight_evidence(text, ['"the line\'s route is final" - and left.'])

    assert "<mark" in html
    assert evidence.claim_verified(evidence.normalise(text), ['"the line\'s route is final" - and left.'])


def test_evidence_is_highlighted_where_it_occurs_and_the_rest_is_escaped():
    text = "Intro <b>bold</b>. The city   council voted on Tuesday. Nothing else."

    html = evidence.highlight_evidence(text, ["the CITY council voted", "not in the text"])

    assert '<mark class="evidence">The city   council voted</mark>' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>" not in html


def test_claims_whose_evidence_is_missing_from_the_source_are_unverified():
    fields = factories.summary_fields()
    fields["key_points"][1]["evidence"] = ["a quote the article never printed"]

    score, unverified = evidence.grounding_of(factories.ARTICLE_TEXT, fields)

    assert [(c["field"], c["claim"]) for c in unverified] == [
        ("key_points[1]", "Commutes could be cut in half.")
    ]
    assert score == 0.75


def test_the_desk_overview_counts_articles_by_status_and_finds_the_oldest_waiting(db):
    old = factories.make_review_article(title="Waiting longest")
    Article.objects.filter(pk=old.pk).update(status_changed_at=timezone.now() - timedelta(hours=5))
    factories.make_review_article(title="Just arrived")
    factories.make_article(status=Article.Status.FAILED, status_reason="extraction: thin content")
    factories.make_source(consecutive_failures=3, last_error_class="timeout")

    home = overview.desk_overview()

    counts = {value: n for value, _label, n in home.status_counts}
    assert counts["in_review"] == 2 and counts["failed"] == 1 and counts["published"] == 0
    assert home.oldest_waiting.title == "Waiting longest"
    assert [a.status_reason for a in home.failed_articles] == ["extraction: thin content"]
    assert [s.last_error_class for s in home.failing_sources] == ["timeout"]


def test_queue_lengths_are_not_shown_without_a_redis_broker(settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert overview.celery_queue_lengths() is None


@pytest.mark.services
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis server (REDIS_URL unset)")
def test_queue_lengths_are_read_from_redis(settings):
    import redis

    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    marker = b"desk-test-marker"
    before = overview.celery_queue_lengths()
    client.rpush("summaries", marker, marker)
    try:
        after = overview.celery_queue_lengths()
    finally:
        client.lrem("summaries", 0, marker)
    assert set(after) == {"default", "ingest", "summaries"}
    assert after["summaries"] == before["summaries"] + 2


# --- regenerating a live article -----------------------------------------------------------------------

LIVE_TAKEAWAY = "The approved takeaway readers see while a new version is prepared."


@pytest.fixture
def live_article(db):
    article = factories.make_published_article(title="Light rail approved")
    article.summaries.update(key_takeaway=LIVE_TAKEAWAY)
    return article


def regenerate_now(article: Article, editor, capture, note: str = "Lead with the cost.") -> None:
    """The desk's Regenerate, then the summary task the review screen queues, run in-process."""
    with capture(execute=False):
        services.article_regenerate(article=article, editor=editor, note=note)
    workflow.article_summarize(article_id=article.pk, note=note, force=True)
    article.refresh_from_db()


def test_regenerating_a_published_article_keeps_it_on_the_site_with_its_approved_summary(
    live_article, editor, client, django_capture_on_commit_callbacks
):
    regenerate_now(live_article, editor, django_capture_on_commit_callbacks)

    assert live_article.status == Article.Status.PUBLISHED
    assert live_article in Article.objects.published()
    assert live_article.summaries.count() == 2
    new = live_article.latest_summary
    assert new.approved_at is None and new.editor_note == "Lead with the cost."
    assert live_article.current_summary.version == 1
    assert live_article.corrected_at is None
    home = client.get("/").content.decode()
    page = client.get(live_article.get_absolute_url())
    assert page.status_code == 200 and "Light rail approved" in home
    assert LIVE_TAKEAWAY in page.content.decode()
    assert new.key_takeaway not in page.content.decode()


def test_a_regenerated_live_article_waits_for_an_editor_with_an_audit_entry(
    live_article, editor, django_capture_on_commit_callbacks
):
    regenerate_now(live_article, editor, django_capture_on_commit_callbacks)

    assert live_article.needs_attention and live_article.summarizing_since is None
    assert live_article in Article.objects.awaiting_review()
    assert actions(live_article) == ["regenerate", "summarize", "summarize"]
    entry = AuditEntry.objects.filter(article=live_article).order_by("id").last()
    assert (entry.from_status, entry.to_status) == (Article.Status.PUBLISHED, Article.Status.PUBLISHED)
    assert "awaits review" in entry.reason
    # Not part of a bulk approve: an editor reads the new version first.
    result = services.articles_approve_bulk(articles=[live_article], editor=editor)
    assert result.done == []


def test_approving_the_regenerated_version_publishes_it_as_a_correction(
    live_article, editor, client, django_capture_on_commit_callbacks
):
    regenerate_now(live_article, editor, django_capture_on_commit_callbacks)
    new = live_article.latest_summary

    services.article_approve(article=live_article, editor=editor, based_on_version=new.version)

    live_article.refresh_from_db()
    assert live_article.current_summary == new and not live_article.needs_attention
    assert live_article.corrected_at is not None
    page = client.get(live_article.get_absolute_url()).content.decode()
    assert "This summary was corrected on" in page
    assert new.key_takeaway.split(".")[0] in page and LIVE_TAKEAWAY not in page


def test_a_trusted_source_may_still_auto_publish_a_fully_grounded_regenerated_version(
    live_article, editor, django_capture_on_commit_callbacks
):
    live_article.source.auto_publish = True
    live_article.source.save()

    regenerate_now(live_article, editor, django_capture_on_commit_callbacks, note="")

    new = live_article.latest_summary
    assert live_article.current_summary == new and live_article.corrected_at is not None
    assert not live_article.needs_attention


def test_a_live_article_being_regenerated_cannot_be_regenerated_twice(
    live_article, editor, django_capture_on_commit_callbacks
):
    Article.objects.filter(pk=live_article.pk).update(summarizing_since=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(services.DeskError, match="already being prepared"):
            services.article_regenerate(article=live_article, editor=editor)
    assert callbacks == []


def test_regenerating_a_rejected_article_still_brings_it_back_for_review(
    editor, django_capture_on_commit_callbacks
):
    article = factories.make_review_article()
    Article.objects.filter(pk=article.pk).update(status=Article.Status.REJECTED)
    regenerate_now(article, editor, django_capture_on_commit_callbacks)

    assert article.status == Article.Status.IN_REVIEW and article.latest_summary.version == 2
    assert article.summarizing_since is None


# --- what readers see after a desk action (guarded writes send no post_save) -------------------


def test_approving_puts_the_article_on_the_cached_home_page_at_once(
    client, article, editor, published_article, django_capture_on_commit_callbacks
):
    assert client.get("/")["X-Page-Cache"] == "miss"
    assert client.get("/")["X-Page-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        services.article_approve(article=article, editor=editor, based_on_version=1)

    response = client.get("/")
    assert response["X-Page-Cache"] == "miss"
    assert article.title in response.content.decode()


def test_rejecting_a_published_article_takes_its_cached_page_down_at_once(
    client, published_article, editor, django_capture_on_commit_callbacks
):
    url = published_article.get_absolute_url()
    assert client.get(url).status_code == 200
    assert client.get(url)["X-Page-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        services.article_reject(article=published_article, editor=editor, reason="Wrong story.")

    assert client.get(url).status_code == 404
