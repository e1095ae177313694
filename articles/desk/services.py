"""The editorial desk: every editor action on an article, as one service function each.

Views (the admin review screen, bulk actions) and the periodic task are thin doors onto
these functions. Each one checks the article's state, writes an append-only AuditEntry and
leaves the database unchanged when it refuses (it raises DeskError before writing, or
inside a transaction that rolls back).

Permissions are checked by the callers (the admin), because a service does not know about
requests; `can_edit_desk` / `can_approve` are the one place the rule is written down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from articles.models import Article, AuditEntry, IllegalTransition, StaleState, Summary

from .evidence import grounding_of, source_text
from .versions import SummaryEdit, normalised

logger = logging.getLogger(__name__)


class DeskError(Exception):
    """An editor action the article's state or the input does not allow. Nothing changed."""


class StaleVersion(DeskError):
    """The edit was based on an older summary version than the latest one."""

    def __init__(self, *, based_on: Summary | None, current: Summary | None) -> None:
        self.based_on = based_on
        self.current = current
        based = based_on.version if based_on else 0
        now = current.version if current else 0
        super().__init__(
            f"Someone saved version {now} while you were editing version {based}. Nothing was "
            f"saved. Your edits are still in the form: compare them with what changed, then "
            f"submit again to replace version {now}."
        )


@dataclass
class BulkResult:
    done: list[Article] = field(default_factory=list)
    skipped: list[tuple[Article, str]] = field(default_factory=list)
    # What the action returned for each article done, by pk (e.g. retry's new status).
    outcomes: dict[int, Any] = field(default_factory=dict)


def _lock(article: Article) -> Article:
    """Re-read the article under a row lock so two editors' actions serialise."""
    return Article.objects.select_for_update().get(pk=article.pk)


def _check_version(article: Article, based_on_version: int | None) -> Summary | None:
    latest = article.summaries.order_by("-version").first()
    if based_on_version is not None and (latest.version if latest else 0) != based_on_version:
        based_on = article.summaries.filter(version=based_on_version).first()
        raise StaleVersion(based_on=based_on, current=latest)
    return latest


def _new_editor_version(
    *, article: Article, editor: Any, fields: dict[str, Any], note: str = "", action: str = "summary.edit"
) -> Summary:
    score, unverified = grounding_of(source_text(article), fields)
    summary = Summary.create_version(
        article=article,
        kind=Summary.Kind.EDITOR,
        producer=str(editor),
        created_by=editor,
        editor_note=note,
        grounding_score=score,
        unverified_claims=unverified,
        **fields,
    )
    AuditEntry.record(
        action,
        actor=editor,
        article=article,
        target=summary,
        from_status=article.status,
        to_status=article.status,
        reason=note,
        version=summary.version,
    )
    return summary


def _save_if_changed(
    *, article: Article, editor: Any, edit: SummaryEdit | None, based_on_version: int | None
) -> Summary | None:
    """The latest version after applying `edit`: a new version only if something changed."""
    latest = _check_version(article, based_on_version)
    if edit is None:
        return latest
    fields = normalised(edit)
    if latest is not None and normalised(SummaryEdit.of(latest)) == fields:
        return latest
    return _new_editor_version(article=article, editor=editor, fields=fields)


def _set_topics(*, article: Article, editor: Any, topics: Any) -> None:
    if topics is None:
        return
    before = set(article.topics.values_list("pk", flat=True))
    after = {t.pk for t in topics}
    if before != after:
        article.topics.set(topics)
        AuditEntry.record(
            "topics.change", actor=editor, article=article, topics=sorted(t.name for t in topics)
        )


def summary_save_draft(
    *,
    article: Article,
    editor: Any,
    edit: SummaryEdit,
    based_on_version: int | None,
    topics: Any = None,
) -> Summary | None:
    """Save the editor's edit as a new version (if anything changed); readers see nothing new.

    Raises StaleVersion when someone saved a newer version meanwhile. Clears needs_attention:
    the editor has looked at the reported claim. A published article keeps showing its
    approved version until an editor approves again (which stamps corrected_at).
    """
    with transaction.atomic():
        article = _lock(article)
        summary = _save_if_changed(
            article=article, editor=editor, edit=edit, based_on_version=based_on_version
        )
        _set_topics(article=article, editor=editor, topics=topics)
        _clear_attention(article)
    return summary


def _clear_attention(article: Article) -> None:
    if article.needs_attention:
        article.needs_attention = False
        article.save(update_fields=["needs_attention"])


def article_approve(
    *,
    article: Article,
    editor: Any,
    based_on_version: int | None,
    edit: SummaryEdit | None = None,
    topics: Any = None,
    reason: str = "",
) -> Summary:
    """Save the edit (if any) and publish the latest version, in one transaction.

    Allowed from in_review, and from published (an approved correction: readers then see
    "corrected on DATE"). Refuses a summary without three key points or a takeaway.
    """
    with transaction.atomic():
        article = _lock(article)
        if article.status not in (Article.Status.IN_REVIEW, Article.Status.PUBLISHED):
            raise DeskError(f"An article that is {article.get_status_display()} cannot be approved.")
        summary = _save_if_changed(
            article=article, editor=editor, edit=edit, based_on_version=based_on_version
        )
        if summary is None:
            raise DeskError("There is no summary to approve yet.")
        summary.full_clean()  # an old or imported version may not meet today's rules
        _set_topics(article=article, editor=editor, topics=topics)
        article.publish(summary, by=editor, reason=reason, clear_attention=True)
    return summary


def article_reject(*, article: Article, editor: Any, reason: str) -> None:
    """Take the article out of review (or off the site) with a reason readers never see."""
    reason = (reason or "").strip()
    if not reason:
        raise DeskError("A rejection needs a reason.")
    with transaction.atomic():
        article = _lock(article)
        from_status = article.status
        if from_status not in (Article.Status.IN_REVIEW, Article.Status.PUBLISHED):
            raise DeskError(f"An article that is {article.get_status_display()} cannot be rejected.")
        if from_status == Article.Status.PUBLISHED:
            # The machine goes published → in_review → rejected; both steps are one action here.
            article.transition_to(Article.Status.IN_REVIEW, reason=reason)
        article.transition_to(Article.Status.REJECTED, reason=reason, scheduled_for=None)
        AuditEntry.record(
            "reject",
            actor=editor,
            article=article,
            from_status=from_status,
            to_status=Article.Status.REJECTED,
            reason=reason,
        )


# The summaries task regenerates only from these; it claims the article itself with a
# compare-and-set (→ summarizing, or summarizing_since for a published one, which stays
# on the site), so the desk must leave the status alone.
REGENERATE_FROM = (Article.Status.IN_REVIEW, Article.Status.PUBLISHED, Article.Status.REJECTED)


def article_regenerate(*, article: Article, editor: Any, note: str = "") -> None:
    """Accept a request for a new AI version (with an optional note to the model); the
    caller queues summarize_article(force=True) to run once this commits.

    The summaries task claims the article (→ summarizing) and brings it back to in_review
    with the new version, which the editor then reviews like any other. A published article
    stays published with its approved summary; the new version waits with needs_attention
    set, in the review queue, until an editor approves it (a correction). A pending schedule
    is cancelled: the version it was for is about to be replaced.
    """
    note = (note or "").strip()
    with transaction.atomic():
        article = _lock(article)
        if article.status not in REGENERATE_FROM:
            raise DeskError(f"An article that is {article.get_status_display()} cannot be regenerated.")
        if article.summarizing_since is not None:
            raise DeskError("A new version is already being prepared for this article.")
        if article.scheduled_for is not None:
            article.scheduled_for = None
            article.save(update_fields=["scheduled_for"])
        AuditEntry.record(
            "regenerate",
            actor=editor,
            article=article,
            from_status=article.status,
            to_status=article.status,
            reason=note,
        )


def article_schedule(
    *,
    article: Article,
    editor: Any,
    when: datetime,
    based_on_version: int | None,
    edit: SummaryEdit | None = None,
    topics: Any = None,
) -> Summary:
    """Save the edit (if any) and publish the latest version at `when` (publish_scheduled does it)."""
    if when <= timezone.now():
        raise DeskError("The publication time must be in the future.")
    with transaction.atomic():
        article = _lock(article)
        if article.status != Article.Status.IN_REVIEW:
            raise DeskError(f"An article that is {article.get_status_display()} cannot be scheduled.")
        summary = _save_if_changed(
            article=article, editor=editor, edit=edit, based_on_version=based_on_version
        )
        if summary is None:
            raise DeskError("There is no summary to schedule yet.")
        summary.full_clean()
        _set_topics(article=article, editor=editor, topics=topics)
        article.scheduled_for = when
        article.needs_attention = False
        article.save(update_fields=["scheduled_for", "needs_attention"])
        AuditEntry.record(
            "schedule",
            actor=editor,
            article=article,
            target=summary,
            from_status=article.status,
            to_status=article.status,
            version=summary.version,
            scheduled_for=when.isoformat(),
        )
    return summary


def summary_restore(*, article: Article, editor: Any, version: int, based_on_version: int | None) -> Summary:
    """Copy an earlier version forward as the newest one; history is never rewritten."""
    with transaction.atomic():
        article = _lock(article)
        _check_version(article, based_on_version)
        old = article.summaries.filter(version=version).first()
        if old is None:
            raise DeskError(f"There is no version {version} to restore.")
        fields = normalised(SummaryEdit.of(old))
        return _new_editor_version(
            article=article,
            editor=editor,
            fields=fields,
            note=f"Restored version {version}.",
            action="summary.restore",
        )


def article_retry(*, article: Article, editor: Any) -> str:
    """Send a failed article back through the pipeline: to `extracted` when it has text (the
    caller queues its summary), else to `new` (the caller queues its extraction). Returns
    the new status."""
    with transaction.atomic():
        article = _lock(article)
        if article.status != Article.Status.FAILED:
            raise DeskError("Only failed articles can be retried.")
        to_status = Article.Status.EXTRACTED if article.extracted_text.strip() else Article.Status.NEW
        article.transition_to(to_status, reason="Retried from the desk.", summary_attempts=0)
        AuditEntry.record(
            "retry",
            actor=editor,
            article=article,
            from_status=Article.Status.FAILED,
            to_status=to_status,
        )
    return to_status


def articles_approve_bulk(*, articles: Any, editor: Any) -> BulkResult:
    """Publish the latest version of each article in review, refusing flagged ones.

    Flagged means a grounding score below 1.0, validation warnings, or a reader report:
    those need an editor to read them one by one. Each article is its own transaction.
    """
    result = BulkResult()
    for article in articles:
        summary = article.latest_summary
        if article.status != Article.Status.IN_REVIEW:
            result.skipped.append((article, f"it is {article.get_status_display()}"))
        elif summary is None:
            result.skipped.append((article, "it has no summary"))
        elif summary.is_flagged:
            result.skipped.append((article, "its summary is flagged by the grounding check"))
        elif article.needs_attention:
            result.skipped.append((article, "a reader reported a claim"))
        else:
            try:
                article_approve(article=article, editor=editor, based_on_version=summary.version)
            except (DeskError, ValidationError, IllegalTransition) as exc:
                # One article that changed meanwhile or fails validation must not stop the batch.
                result.skipped.append((article, _message(exc)))
            else:
                result.done.append(article)
    return result


def articles_reject_bulk(*, articles: Any, editor: Any, reason: str) -> BulkResult:
    if not (reason or "").strip():
        raise DeskError("A rejection needs a reason.")
    return _each(articles, lambda article: article_reject(article=article, editor=editor, reason=reason))


def articles_regenerate_bulk(*, articles: Any, editor: Any, note: str = "") -> BulkResult:
    return _each(articles, lambda article: article_regenerate(article=article, editor=editor, note=note))


def articles_retry_bulk(*, articles: Any, editor: Any) -> BulkResult:
    """Retry each failed article; `outcomes` holds each one's new status for the caller's queueing."""
    return _each(articles, lambda article: article_retry(article=article, editor=editor))


def _each(articles: Any, action: Any) -> BulkResult:
    """Run a one-article desk action on each article, each in its own transaction; one the
    action refuses is skipped with the reason and does not stop the others."""
    result = BulkResult()
    for article in articles:
        try:
            outcome = action(article)
        except DeskError as exc:
            result.skipped.append((article, str(exc)))
        else:
            result.done.append(article)
            result.outcomes[article.pk] = outcome
    return result


def _message(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    return "; ".join(messages) if messages else str(exc)


def _scheduling_editor(article: Article, summary: Summary) -> Any:
    """Who scheduled `summary` for publication (the latest "schedule" entry), if that entry
    names this version."""
    entry = (
        AuditEntry.objects.filter(article=article, action="schedule")
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    if entry is None or entry.details.get("version") != summary.version:
        return None
    return entry.actor


def publish_scheduled_due(*, now: datetime | None = None) -> list[int]:
    """Publish every in-review article whose scheduled time has come; returns their ids.

    Each article is re-read under a row lock and published through the guarded transition
    (in_review → published, which also clears scheduled_for), so two beat ticks or two
    workers never publish the same article twice. The editor who scheduled the version being
    published is its approving editor (readers see it as editor-reviewed); a version that
    arrived after the schedule was set is published without one.
    """
    now = now or timezone.now()
    published: list[int] = []
    due = Article.objects.filter(status=Article.Status.IN_REVIEW, scheduled_for__lte=now)
    for article_id, when in due.values_list("pk", "scheduled_for"):
        with transaction.atomic():
            article = Article.objects.select_for_update().get(pk=article_id)
            summary = article.latest_summary
            if article.status != Article.Status.IN_REVIEW or article.scheduled_for != when or summary is None:
                continue  # rescheduled, cancelled, rejected or published meanwhile
            try:
                article.publish(
                    summary,
                    by=_scheduling_editor(article, summary),
                    automatic=True,
                    reason=f"Scheduled for {when:%Y-%m-%d %H:%M} UTC.",
                )
            except (StaleState, IllegalTransition):
                continue  # rejected or published by an editor meanwhile
            published.append(article_id)
    return published
