from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from articles.models import (
    KEY_POINT_HEADINGS,
    Article,
    AuditEntry,
    IllegalTransition,
    StaleState,
    Summary,
    read_time_minutes,
    text_hash,
)
from tests import factories

S = Article.Status
LEGAL = {
    (S.NEW, S.EXTRACTED),
    (S.NEW, S.FAILED),
    (S.EXTRACTED, S.SUMMARIZING),
    (S.SUMMARIZING, S.IN_REVIEW),
    (S.SUMMARIZING, S.EXTRACTED),
    (S.SUMMARIZING, S.FAILED),
    (S.IN_REVIEW, S.PUBLISHED),
    (S.IN_REVIEW, S.REJECTED),
    (S.IN_REVIEW, S.SUMMARIZING),
    (S.PUBLISHED, S.IN_REVIEW),
    (S.REJECTED, S.SUMMARIZING),
    (S.FAILED, S.NEW),
    (S.FAILED, S.EXTRACTED),
}


@pytest.mark.parametrize("start,end", sorted(LEGAL))
def test_every_legal_transition_is_saved(db, start, end):
    article = factories.make_article(status=start)
    article.transition_to(end, reason="because")
    article.refresh_from_db()
    assert article.status == end
    assert article.status_reason == "because"


ILLEGAL = sorted(set(itertools.product(S.values, S.values)) - LEGAL)


@pytest.mark.parametrize("start,end", ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(db, start, end):
    article = factories.make_article(status=start)
    with pytest.raises(IllegalTransition):
        article.transition_to(end)
    article.refresh_from_db()
    assert article.status == start


def test_a_stale_copy_cannot_move_an_article_another_writer_moved_first(db):
    article = factories.make_review_article()
    stale = Article.objects.get(pk=article.pk)
    article.transition_to(S.REJECTED, reason="Wrong story.")

    with pytest.raises(StaleState):
        stale.transition_to(S.PUBLISHED)

    assert Article.objects.get(pk=article.pk).status == S.REJECTED
    assert (stale.status, stale.status_reason) == (S.IN_REVIEW, "")  # the copy is left as read


def test_a_move_under_a_claim_token_needs_the_claim_to_be_unchanged(db):
    article = factories.make_article(status=S.SUMMARIZING)
    token = article.status_changed_at
    # The sweeper released the claim and another worker claimed it again meanwhile.
    other = Article.objects.get(pk=article.pk)
    other.transition_to(S.EXTRACTED)
    other.transition_to(S.SUMMARIZING)

    with pytest.raises(StaleState):
        article.transition_to(S.IN_REVIEW, token=token)
    assert Article.objects.get(pk=article.pk).status == S.SUMMARIZING
    article.status, article.status_changed_at = S.SUMMARIZING, other.status_changed_at
    article.transition_to(S.IN_REVIEW, token=other.status_changed_at)
    assert Article.objects.get(pk=article.pk).status == S.IN_REVIEW


def test_publishing_writes_only_its_own_fields(db):
    article = factories.make_review_article()
    # A reader reports a claim and an editor retitles the article after the publisher read it.
    Article.objects.filter(pk=article.pk).update(needs_attention=True, title="Retitled by an editor")

    article.publish(article.latest_summary, automatic=True)

    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == S.PUBLISHED and fresh.published_on_site_at is not None
    assert fresh.needs_attention is True and fresh.title == "Retitled by an editor"


def test_correcting_an_article_that_was_taken_down_meanwhile_is_refused(db, editor):
    article = factories.make_published_article()
    stale = Article.objects.get(pk=article.pk)
    article.transition_to(S.IN_REVIEW, reason="Taken down.")

    with pytest.raises(StaleState):
        stale.publish(stale.latest_summary, by=editor)
    fresh = Article.objects.get(pk=article.pk)
    assert fresh.status == S.IN_REVIEW and fresh.corrected_at is None
    assert not AuditEntry.objects.filter(article=article, action="publish").exists()


def test_the_happy_path_runs_from_new_to_published(db):
    article = factories.make_article(status=S.NEW)
    for status in (S.EXTRACTED, S.SUMMARIZING, S.IN_REVIEW, S.PUBLISHED):
        article.transition_to(status)
    assert Article.objects.get(pk=article.pk).status == S.PUBLISHED


def test_an_unknown_status_is_refused(db):
    article = factories.make_article()
    with pytest.raises(IllegalTransition, match="Unknown status"):
        article.transition_to("archived")


@pytest.mark.parametrize("words,minutes", [(0, 0), (1, 1), (230, 1), (231, 2), (1150, 5), (2300, 10)])
def test_read_time_rounds_up_to_whole_minutes(words, minutes):
    assert read_time_minutes(words) == minutes


def test_setting_text_derives_word_count_read_time_and_hash(db):
    article = factories.make_article()
    article.set_text("word " * 700)
    assert (article.word_count, article.read_time) == (700, 4)
    assert article.content_hash == text_hash("WORD   " * 700)


def test_a_report_in_a_script_without_spaces_is_counted_in_words_not_in_spaces(db):
    japanese = "東京都は新しい防災計画を発表した。" * 40  # 17 characters a sentence, no spaces
    article = factories.make_article()
    article.set_text(japanese)
    # About two characters a word, as Japanese runs, not one "word" per unbroken line.
    assert article.word_count == 40 * 16 // 2 and article.read_time == 2
    article.set_text("Die Stadt Tōkyō (東京都) meldet 3 neue Pläne.")
    assert article.word_count == 7 + 2  # the spaced words, and the three characters as two


def test_a_canonical_url_is_stored_only_once(db):
    article = factories.make_article(url="https://news.example.com/same")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_article(url="https://news.example.com/same", source=article.source)
    assert Article.objects.filter(url="https://news.example.com/same").count() == 1


def test_one_guid_in_one_source_is_one_article(db):
    article = factories.make_article(guid="tag:example.com,2026:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_article(guid="tag:example.com,2026:1", source=article.source)


def test_an_empty_title_is_rejected_with_a_clear_error(db):
    article = factories.make_article()
    article.title = "   "
    with pytest.raises(ValidationError) as error:
        article.full_clean()
    assert "title" in error.value.message_dict


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "file:///etc/passwd", "not a url"]
)
def test_non_http_urls_are_rejected(db, url):
    article = factories.make_article()
    article.url = url
    with pytest.raises(ValidationError) as error:
        article.full_clean()
    assert "url" in error.value.message_dict


def test_titles_get_unique_slugs(db):
    a = factories.make_article(title="Same headline")
    b = factories.make_article(title="Same headline")
    assert (a.slug, b.slug) == ("same-headline", "same-headline-2")


def test_a_new_summary_version_never_overwrites_the_old_one(db):
    article = factories.make_article(status=S.IN_REVIEW)
    first = Summary.create_version(article=article, **factories.summary_fields())
    second = Summary.create_version(
        article=article,
        **factories.summary_fields(key_takeaway="An editor's sharper takeaway.", kind="editor"),
    )
    assert (first.version, second.version) == (1, 2)
    first.refresh_from_db()
    assert first.key_takeaway.startswith("The council approved")
    assert article.summaries.count() == 2


def test_the_current_summary_is_the_latest_approved_version(db, editor):
    article = factories.make_article(status=S.IN_REVIEW)
    v1 = Summary.create_version(article=article, **factories.summary_fields())
    assert article.current_summary is None
    article.publish(v1, by=editor)
    Summary.create_version(article=article, **factories.summary_fields(key_takeaway="Unapproved draft."))
    assert article.current_summary == v1
    assert article.latest_summary.version == 2


@pytest.mark.parametrize(
    "change,field",
    [
        ({"key_points": []}, "key_points"),
        ({"key_points": "three"}, "key_points"),
        ({"key_takeaway": "  "}, "key_takeaway"),
        ({"faq": [{"question": "Why?", "answer": ""}]}, "faq"),
    ],
)
def test_an_invalid_summary_is_refused_and_no_row_is_written(db, change, field):
    article = factories.make_article()
    with pytest.raises(ValidationError) as error:
        Summary.create_version(article=article, **factories.summary_fields(**change))
    assert field in error.value.message_dict
    assert not Summary.objects.filter(article=article).exists()


def test_a_summary_with_two_or_four_key_points_is_refused(db):
    article = factories.make_article()
    points = factories.summary_fields()["key_points"]
    for wrong in (points[:2], points + [points[0]]):
        with pytest.raises(ValidationError):
            Summary.create_version(article=article, **factories.summary_fields(key_points=wrong))
    assert [p["heading"] for p in points] == list(KEY_POINT_HEADINGS)


def test_publishing_twice_marks_a_correction(db, editor):
    article = factories.make_article(status=S.IN_REVIEW)
    article.publish(Summary.create_version(article=article, **factories.summary_fields()), by=editor)
    assert article.published_on_site_at is not None and article.corrected_at is None
    article.transition_to(S.IN_REVIEW)
    article.publish(Summary.create_version(article=article, **factories.summary_fields()), by=editor)
    assert article.corrected_at is not None
    assert AuditEntry.objects.filter(article=article, action="publish").count() == 2


def test_audit_entries_cannot_be_changed_or_deleted(db):
    entry = AuditEntry.record("publish", reason="first")
    entry.reason = "rewritten"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert AuditEntry.objects.get().reason == "first"


def test_only_published_articles_past_their_time_are_public(db):
    live = factories.make_published_article()
    factories.make_article(status=S.IN_REVIEW)
    factories.make_article(status=S.REJECTED)
    assert list(Article.objects.published()) == [live]


def test_a_rejected_article_does_not_lead_its_story_while_another_can(db):
    story = factories.make_story(title="Rail vote")
    first = factories.make_article(story=story, title="Rejected early report", status=Article.Status.REJECTED)
    later = factories.make_article(story=story, title="Council approves light rail")

    story.refresh_from_db()

    assert first.published_at <= later.published_at
    assert story.lead_id == later.pk and story.title == "Council approves light rail"
