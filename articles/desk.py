"""The editorial desk: every editor action on an article, as one service function each.

Views (the admin review screen, bulk actions) and the periodic task are thin doors onto
these functions. Each one checks the article's state, writes an append-only AuditEntry and
leaves the database unchanged when it refuses (it raises DeskError before writing, or
inside a transaction that rolls back).

Permissions are checked by the callers (the admin), because a service does not know about
requests; `can_edit_desk` / `can_approve` are the one place the rule is written down.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Article, AuditEntry, IllegalTransition, Source, Summary
from .summarizers import budget
from .summarizers.grounding import normalise, quote_in_text

logger = logging.getLogger(__name__)

APPROVE_PERMISSION = "articles.approve_article"
EDIT_PERMISSION = "articles.add_summary"
CELERY_QUEUES = ("default", "ingest", "summaries")


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


@dataclass(frozen=True)
class SummaryEdit:
    """What the review form submits: the editor's version of the summary."""

    key_takeaway: str
    key_points: list[dict[str, Any]]
    faq: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, summary: Summary) -> SummaryEdit:
        return cls(key_takeaway=summary.key_takeaway, key_points=summary.key_points, faq=summary.faq or [])

    def as_fields(self) -> dict[str, Any]:
        return {"key_takeaway": self.key_takeaway, "key_points": self.key_points, "faq": self.faq}


@dataclass
class BulkResult:
    done: list[Article] = field(default_factory=list)
    skipped: list[tuple[Article, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------------------


def can_approve(user: Any) -> bool:
    """Only Editors approve, reject, schedule, regenerate, restore and retry."""
    return bool(user.is_active and user.is_staff and user.has_perm(APPROVE_PERMISSION))


def can_edit_desk(user: Any) -> bool:
    """Saving a draft needs the right to add summary versions (Editors have it)."""
    return bool(user.is_active and user.is_staff and user.has_perm(EDIT_PERMISSION))


# --------------------------------------------------------------------------------------
# Evidence: which quotes occur in the source text, and where
# --------------------------------------------------------------------------------------


# Characters the grounding check treats as equal (summarizers/grounding.py normalises them);
# the highlighter must find the same quotes in the raw text, so each becomes a class.
_EQUIVALENT = {
    **dict.fromkeys("'\u2018\u2019\u201a\u201b\u2032`", "['\u2018\u2019\u201a\u201b\u2032`]"),
    **dict.fromkeys(
        '"\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb', '["\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]'
    ),
    **dict.fromkeys("-\u2010\u2011\u2012\u2013\u2014\u2212", "[-\u2010\u2011\u2012\u2013\u2014\u2212]"),
}
_EDGE = " \"'.,;:!?\u2026\u201c\u201d\u2018\u2019"


def _quote_pattern(quote: str) -> re.Pattern[str] | None:
    words = quote.strip(_EDGE).split()
    if not words:
        return None
    # Feeds and extractors disagree about whitespace, case, quote marks and dashes; the words
    # must still match in order.
    parts = ["".join(_EQUIVALENT.get(ch, re.escape(ch)) for ch in word) for word in words]
    return re.compile(r"\s+".join(parts), re.IGNORECASE)


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    pattern = _quote_pattern(quote)
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text)]


def source_text(article: Article) -> str:
    """What the summary is checked against: the extracted text, or the feed's own text when
    extraction found nothing (the summariser falls back the same way)."""
    return article.extracted_text or article.feed_summary


def evidence_quotes(fields: dict[str, Any]) -> list[str]:
    quotes: list[str] = []
    for row in list(fields.get("key_points") or []) + list(fields.get("faq") or []):
        quotes.extend(q for q in row.get("evidence") or [] if str(q).strip())
    return quotes


def highlight_evidence(text: str, quotes: list[str]) -> SafeString:
    """The source text, escaped, with every occurrence of every quote wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        spans.extend(quote_spans(text, quote))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(escape(text[pos:start]))
        out.append(f'<mark class="evidence">{escape(text[start:end])}</mark>')
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # every piece above was escaped


def grounding_of(text: str, fields: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Grounding of an editor's version, by the same rule as the AI's (summarizers/grounding.py):
    a key point or FAQ answer is grounded when at least one of its quotes is in the text.

    Returns the share grounded and the unverified claims in the summariser's format.
    """
    haystack = normalise(text)
    items = [
        (f"key_points[{i}]", p.get("heading", ""), p.get("text", ""), p.get("evidence") or [])
        for i, p in enumerate(fields.get("key_points") or [])
    ]
    items += [
        (f"faq[{i}]", r.get("question", ""), r.get("answer", ""), r.get("evidence") or [])
        for i, r in enumerate(fields.get("faq") or [])
    ]
    unverified = [
        {"field": where, "label": label, "claim": claim, "evidence": evidence}
        for where, label, claim, evidence in items
        if not claim_verified(haystack, evidence)
    ]
    score = (len(items) - len(unverified)) / len(items) if items else 0.0
    return round(score, 4), unverified


def claim_verified(normalised_text: str, evidence: list[str]) -> bool:
    return any(quote_in_text(q, normalised_text) for q in evidence)


def claim_text(claim: Any) -> str:
    """One unverified claim for display, whatever shape an older version stored."""
    if isinstance(claim, dict):
        label, text = claim.get("label", ""), claim.get("claim", "")
        return f"{label}: {text}" if label else str(text)
    return str(claim)


# --------------------------------------------------------------------------------------
# Versions and diffs
# --------------------------------------------------------------------------------------


def summary_lines(fields: dict[str, Any] | Summary | None) -> list[str]:
    """A summary as plain lines, the unit the desk diffs on."""
    if fields is None:
        return []
    if isinstance(fields, Summary):
        fields = SummaryEdit.of(fields).as_fields()
    lines = [f"Key takeaway: {fields.get('key_takeaway', '')}"]
    for point in fields.get("key_points") or []:
        lines.append(f"{point.get('heading', '')}: {point.get('text', '')}")
        lines.extend(f"    evidence: {q}" for q in point.get("evidence") or [])
    for row in fields.get("faq") or []:
        lines.append(f"Q: {row.get('question', '')}")
        lines.append(f"A: {row.get('answer', '')}")
        lines.extend(f"    evidence: {q}" for q in row.get("evidence") or [])
    return lines


def summary_diff(old: Any, new: Any) -> list[tuple[str, str]]:
    """(kind, line) pairs with kind in {"same", "added", "removed"}: small enough to template."""
    rows: list[tuple[str, str]] = []
    for line in difflib.ndiff(summary_lines(old), summary_lines(new)):
        tag, text = line[:2], line[2:]
        if tag == "+ ":
            rows.append(("added", text))
        elif tag == "- ":
            rows.append(("removed", text))
        elif tag == "  ":
            rows.append(("same", text))
    return rows


def _normalised(edit: SummaryEdit) -> dict[str, Any]:
    return {
        "key_takeaway": edit.key_takeaway.strip(),
        "key_points": [
            {
                "heading": p.get("heading", ""),
                "text": str(p.get("text", "")).strip(),
                "evidence": [str(q).strip() for q in p.get("evidence") or [] if str(q).strip()],
            }
            for p in edit.key_points
        ],
        "faq": [
            {
                "question": str(r.get("question", "")).strip(),
                "answer": str(r.get("answer", "")).strip(),
                "evidence": [str(q).strip() for q in r.get("evidence") or [] if str(q).strip()],
            }
            for r in edit.faq
        ],
    }


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
    fields = _normalised(edit)
    if latest is not None and _normalised(SummaryEdit.of(latest)) == fields:
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


# --------------------------------------------------------------------------------------
# Editor actions on one article
# --------------------------------------------------------------------------------------


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
        article.needs_attention = False
        article.publish(summary, by=editor, reason=reason)
    return summary


def article_reject(*, article: Article, editor: Any, reason: str) -> None:
    """Take the article out of review (or off the site) with a reason readers never see."""
    reason = (reason or "").strip()
    if not reason:
        raise DeskError("A rejection needs a reason.")
    with transaction.atomic():
        article = _lock(article)
        from_status = article.status
        if from_status == Article.Status.PUBLISHED:
            # The machine goes published → in_review → rejected; both steps are one action here.
            article.transition_to(Article.Status.IN_REVIEW, reason=reason)
        try:
            article.transition_to(Article.Status.REJECTED, reason=reason, save=False)
        except IllegalTransition as exc:
            raise DeskError(f"An article that is {article.get_status_display()} cannot be rejected.") from exc
        article.scheduled_for = None
        article.save(update_fields=["status", "status_reason", "status_changed_at", "scheduled_for"])
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


def _enqueue_summary(article_id: int, *, note: str = "", force: bool = False) -> None:
    # Imported late: tasks.py imports the services, not the other way round.
    from .tasks import summarize_article

    summarize_article.delay(article_id, note=note, force=force)


def article_regenerate(*, article: Article, editor: Any, note: str = "") -> None:
    """Queue a new AI version (with an optional note to the model) once this commits.

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
        article_id = article.pk
        transaction.on_commit(lambda: _enqueue_summary(article_id, note=note, force=True))


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
        fields = _normalised(SummaryEdit.of(old))
        return _new_editor_version(
            article=article,
            editor=editor,
            fields=fields,
            note=f"Restored version {version}.",
            action="summary.restore",
        )


def article_retry(*, article: Article, editor: Any) -> None:
    """Send a failed article back through the pipeline: re-summarise if text exists, else re-extract."""
    with transaction.atomic():
        article = _lock(article)
        if article.status != Article.Status.FAILED:
            raise DeskError("Only failed articles can be retried.")
        to_status = Article.Status.EXTRACTED if article.extracted_text.strip() else Article.Status.NEW
        article.transition_to(to_status, reason="Retried from the desk.", save=False)
        article.summary_attempts = 0
        article.save(update_fields=["status", "status_reason", "status_changed_at", "summary_attempts"])
        AuditEntry.record(
            "retry",
            actor=editor,
            article=article,
            from_status=Article.Status.FAILED,
            to_status=to_status,
        )
        article_id = article.pk
        if to_status == Article.Status.EXTRACTED:
            transaction.on_commit(lambda: _enqueue_summary(article_id))
        else:
            transaction.on_commit(lambda: _enqueue_extract(article_id))


def _enqueue_extract(article_id: int) -> None:
    from .tasks import extract_article  # late, as above

    extract_article.delay(article_id)


# --------------------------------------------------------------------------------------
# Bulk actions
# --------------------------------------------------------------------------------------


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
    result = BulkResult()
    for article in articles:
        try:
            article_reject(article=article, editor=editor, reason=reason)
        except DeskError as exc:
            result.skipped.append((article, str(exc)))
        else:
            result.done.append(article)
    return result


def articles_regenerate_bulk(*, articles: Any, editor: Any, note: str = "") -> BulkResult:
    result = BulkResult()
    for article in articles:
        try:
            article_regenerate(article=article, editor=editor, note=note)
        except DeskError as exc:
            result.skipped.append((article, str(exc)))
        else:
            result.done.append(article)
    return result


def _message(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    return "; ".join(messages) if messages else str(exc)


# --------------------------------------------------------------------------------------
# Scheduled publishing
# --------------------------------------------------------------------------------------


def publish_scheduled_due(*, now: datetime | None = None) -> list[int]:
    """Publish every in-review article whose scheduled time has come; returns their ids.

    Each article is claimed with one conditional UPDATE (scheduled_for → NULL), so two
    beat ticks or two workers never publish the same article twice.
    """
    now = now or timezone.now()
    published: list[int] = []
    due = Article.objects.filter(status=Article.Status.IN_REVIEW, scheduled_for__lte=now)
    for article_id, when in due.values_list("pk", "scheduled_for"):
        with transaction.atomic():
            claimed = Article.objects.filter(
                pk=article_id, status=Article.Status.IN_REVIEW, scheduled_for=when
            ).update(scheduled_for=None)
            if not claimed:
                continue
            article = Article.objects.select_for_update().get(pk=article_id)
            summary = article.latest_summary
            if summary is None:
                continue
            article.publish(summary, automatic=True, reason=f"Scheduled for {when:%Y-%m-%d %H:%M} UTC.")
            published.append(article_id)
    return published


# --------------------------------------------------------------------------------------
# Desk home
# --------------------------------------------------------------------------------------


@dataclass
class DeskOverview:
    status_counts: list[tuple[str, str, int]]
    oldest_waiting: Article | None
    spend_today: Decimal
    budget: Decimal
    failed_articles: list[Article]
    failing_sources: list[Source]
    queue_lengths: dict[str, int] | None
    needs_attention: int

    @property
    def budget_used_percent(self) -> int:
        if not self.budget:
            return 0
        return int(self.spend_today * 100 / self.budget)


def celery_queue_lengths() -> dict[str, int] | None:
    """LLEN of each queue when the broker is Redis; None otherwise or when Redis is down."""
    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis  # only needed on the Redis leg

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with client.pipeline() as pipe:
            for name in CELERY_QUEUES:
                pipe.llen(name)
            lengths = pipe.execute()
    except redis.RedisError:
        logger.warning("Could not read Celery queue lengths from Redis.", exc_info=True)
        return None
    return dict(zip(CELERY_QUEUES, (int(n) for n in lengths), strict=True))


def desk_overview(*, now: datetime | None = None) -> DeskOverview:
    counts = dict(
        Article.objects.order_by()
        .values_list("status")
        .annotate(n=models.Count("pk"))
        .values_list("status", "n")
    )
    return DeskOverview(
        status_counts=[(value, label, counts.get(value, 0)) for value, label in Article.Status.choices],
        oldest_waiting=Article.objects.in_review()
        .select_related("source")
        .order_by("status_changed_at", "pk")
        .first(),
        # One definition of today's spend: the same figure the budget guard pauses on.
        spend_today=budget.spend_today(),
        budget=settings.SUMMARY_DAILY_BUDGET_USD,
        failed_articles=list(
            Article.objects.filter(status=Article.Status.FAILED)
            .select_related("source")
            .order_by("-status_changed_at")[:20]
        ),
        failing_sources=list(Source.objects.failing().order_by("-consecutive_failures", "name")[:20]),
        queue_lengths=celery_queue_lengths(),
        needs_attention=Article.objects.filter(needs_attention=True).count(),
    )
