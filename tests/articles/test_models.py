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
    (S.EXTRACTED, S.FAILED),
    (S.SUMMARIZING, S.IN_REVIEW),
    (S.SUMMARIZING, S.EXTRACTED),
    (S.SUMMARIZING, S.FAILED),
    (S.IN_REVIEW, S.PUBLISHED),
    (S.IN_REVIEW, S.REJECTED),
    (S.IN_REVIEW, S.SUMMARIZING),
    (S.PUBLISHED, S.IN_REVIEW),
    (S.PUBLISHED, S.SUMMARIZING),
    (S.REJECTED, S.IN_REVIEW),
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
