"""Summarising articles: the workflow behind the task, the command and the sweeper.

Rules (see docs/summaries.md):
- Status: `extracted → summarizing → in_review`, or `failed` with a reason. With force=True
  (the desk's Regenerate) an article may also start from in_review or rejected.
- Regenerating a *published* article keeps it published: readers keep the approved summary
  (Article.current_summary) while the new version waits for an editor with
  needs_attention=True, so the desk's queue lists it. Only the auto-publish rule (trusted
  source, grounding 1.0, no warnings) may approve it without an editor, as for any version.
- Exactly once: a compare-and-set UPDATE claims the article, on the status (→ summarizing),
  or for a published article on `summarizing_since` (NULL → now, the claim token), so two
  workers never summarise it at the same time; the SDK sends no idempotency key.
- Idempotent: a summary already made from the same text hash + prompt version + model is
  reused without a call (and without cost) unless force=True.
- Output is validated; a failure is retried once with the errors fed back, a second failure
  stores a flagged extractive fallback and sends the article to review with the reason.
- A temporary backend error releases the article back to `extracted` and raises
  SummaryTemporaryError: the caller (task or command) owns the retry and its backoff.
- Paid backends pause when the daily budget is spent: the article waits in `extracted`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F

from articles.models import Article, AuditEntry, ModelCall, StaleState, Summary, Topic

from . import budget
from .backends import cost_of, get_summarizer
from .base import Summarizer, SummarizerError, SummaryRequest, Usage
from .extractive import ExtractiveSummarizer
from .grounding import check_grounding
from .prompt import PROMPT_VERSION
from .validation import ValidationOutcome, validate_output

logger = logging.getLogger(__name__)

logger = logging.getLogger(__name__)

Status = Article.Status
REGENERATE_FROM = (Status.IN_REVIEW, Status.PUBLISHED, Status.REJECTED)


class SummaryTemporaryError(Exception):
    """The backend failed in a way that may pass (429/529/5xx/timeout). Retry later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class SummarizeOutcome:
    article_id: int
    result: str  # summarized, reused, review, failed, paused, deferred, skipped
    detail: str = ""
    summary_id: int | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal("0")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cost_usd"] = str(self.cost_usd)
        return data


def summary_input_hash(*, article: Article, model: str, note: str = "") -> str:
    text_part = article.content_hash or hashlib.sha256(article.extracted_text.encode()).hexdigest()
    return hashlib.sha256(f"{text_part}|{PROMPT_VERSION}|{model}|{note.strip()}".encode()).hexdigest()


def retry_delay(attempt: int, retry_after: float | None = None, *, cap: float = 300.0) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s ... up to `cap`), never shorter than
    the server's retry-after. Jitter spreads a herd of workers hit by the same outage."""
    base = min(cap, 5.0 * 2 ** max(0, attempt - 1))
    delay = random.uniform(base / 2, base)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap) + random.uniform(0, 1))
    return delay


def _request_for(
    article: Article, *, note: str = "", previous_errors: list[str] | None = None
) -> SummaryRequest:
    return SummaryRequest(
        title=article.title,
        source=article.source.name,
        text=article.extracted_text,
        topics=list(Topic.objects.values_list("name", flat=True)),
        note=note,
        previous_errors=previous_errors or [],
    )


# --- Status moves -------------------------------------------------------------------------
# Each one goes through Article.transition_to (or the live-claim methods beside it): one
# compare-and-set UPDATE, audited only when it wrote. A worker's claim token is the
# status_changed_at its claim wrote (summarizing_since for a live regenerate); every later
# move passes it, so a worker the sweeper released cannot finish over the one that took over.


def _claim(article: Article, *, reason: str = "") -> bool:
    """Claim the article for this worker: → summarizing, only if nobody changed it since we
    read it. A published article keeps its status (it stays on the site); its claim is
    `summarizing_since`, set only where it is still NULL. False when another worker won."""
    from_status = article.status
    try:
        if from_status == Status.PUBLISHED:
            article.claim_live_regenerate()
            reason = reason or "Regenerating while the approved summary stays live."
        else:
            article.transition_to(
                Status.SUMMARIZING, reason=reason, summary_attempts=F("summary_attempts") + 1
            )
    except StaleState:
        return False
    AuditEntry.record(
        "summarize",
        article=article,
        from_status=from_status,
        to_status=article.status,
        automatic=True,
        reason=reason,
    )
    return True


def _claim_token(article: Article) -> datetime:
    return article.summarizing_since or article.status_changed_at


def _move(
    article: Article,
    to_status: str,
    *,
    reason: str,
    action: str = "summarize",
    attention: bool = True,
    **details,
) -> None:
    """summarizing → `to_status` under our own claim token; raises StaleState when the claim
    is no longer ours (the sweeper released it, another worker may hold it now).

    For a live regenerate (claimed on summarizing_since) the status stays `published`: the
    claim is released instead, and a result for review (`to_status` in_review) sets
    needs_attention unless `attention=False` (auto-publish follows)."""
    from_status = article.status
    if article.summarizing_since is not None:
        changes: dict = {}
        if attention and to_status == Status.IN_REVIEW:
            reason = reason or "A regenerated version awaits review."
            changes = {"needs_attention": True, "status_reason": reason}
        article.release_live_claim(article.summarizing_since, **changes)
    else:
        article.transition_to(to_status, reason=reason, token=article.status_changed_at)
    AuditEntry.record(
        action,
        article=article,
        from_status=from_status,
        to_status=article.status,
        reason=reason,
        automatic=True,
        **details,
    )


def _fail(article: Article, reason: str) -> SummarizeOutcome:
    """Final failure. A regenerate of an article that already has a summary goes back to
    review (its earlier versions are still there to approve); a first summary goes to failed."""
    to_status = Status.IN_REVIEW if article.summaries.exists() else Status.FAILED
    _move(article, to_status, reason=reason[:2000], action="summarize-failed")
    return SummarizeOutcome(article.pk, "failed", reason)


def _record_call(
    *,
    article: Article | None,
    summarizer: Summarizer,
    usage: Usage,
    outcome: str,
    error: str = "",
    batch=False,
) -> Decimal:
    cost = cost_of(usage, summarizer.model, batch=batch)
    if summarizer.kind == "ai":  # the extractive backend is free and makes no call
        ModelCall.objects.create(
            article=article,
            backend=summarizer.name,
            model=summarizer.model,
            outcome=outcome,
            **dataclasses.asdict(usage),  # the four token counts, named as on the models
            cost_usd=cost,
            error=error[:4000],
        )
    return cost


# --- Storing a summary -----------------------------------------------------------------


def _store(
    *,
    article: Article,
    summarizer_kind: str,
    producer: str,
    validated: ValidationOutcome,
    input_hash: str,
    usage: Usage,
    cost: Decimal,
    note: str,
    extra_warnings: list[str] = (),
    review_reason: str = "",
) -> SummarizeOutcome:
    """Save the next summary version and move the article to review (or auto-publish), in one
    transaction: the version is kept only if the move under our claim token succeeds."""
    output = validated.output
    assert output is not None
    grounding = check_grounding(output, article.extracted_text)
    warnings = list(extra_warnings) + validated.warnings
    # A point with one good quote still counts as grounded, but a fabricated quote beside it
    # must not slip through unseen: it becomes a warning, which also blocks auto-publish.
    warnings += [f"Evidence quote not found in the article: {q}" for q in grounding.unverified_quotes]
    with transaction.atomic():
        summary = Summary.create_version(
            article=article,
            kind=Summary.Kind.AI if summarizer_kind == "ai" else Summary.Kind.EXTRACTIVE,
            producer=producer,
            prompt_version=PROMPT_VERSION,
            input_hash=input_hash,
            key_takeaway=output.key_takeaway,
            key_points=[p.model_dump() for p in output.key_points],
            faq=[q.model_dump() for q in output.faq],
            suggested_topics=output.suggested_topics,
            grounding_score=grounding.score,
            unverified_claims=grounding.unverified_claims,
            validation_warnings=warnings,
            **dataclasses.asdict(usage),  # the four token counts, named as on the models
            cost_usd=cost,
            editor_note=note,
        )
        reason = review_reason or (
            f"Flagged: grounding {grounding.score:.2f}, {len(warnings)} warning(s)"
            if summary.is_flagged
            else ""
        )
        if article.summarizing_since is not None and not reason:
            reason = f"Regenerated version {summary.version} awaits review; version on the site stays live."
        auto = _auto_publishable(article, summary)
        # Raises StaleState when our claim was released meanwhile: the version above rolls
        # back with it, so a worker presumed dead never leaves a second version behind.
        _move(
            article,
            Status.IN_REVIEW,
            reason=reason,
            attention=not auto,
            version=summary.version,
            producer=producer,
        )
        if auto:
            article.publish(summary, automatic=True, reason="auto-publish: trusted source, fully grounded")
    return SummarizeOutcome(
        article.pk, "review" if summary.is_flagged else "summarized", reason, summary.pk, usage, cost
    )


def _auto_publishable(article: Article, summary: Summary) -> bool:
    """Only a trusted source's fully grounded, warning-free summary goes live untouched."""
    return bool(
        article.source.auto_publish and summary.grounding_score == 1.0 and not summary.validation_warnings
    )


def _fallback_extractive(
    *, article: Article, input_hash: str, usage: Usage, cost: Decimal, note: str, errors: list[str]
) -> SummarizeOutcome:
    """The model failed validation twice: give the editor an honest extractive draft, flagged."""
    reason = "AI summary rejected twice by validation: " + "; ".join(errors)[:1500]
    try:
        reply = ExtractiveSummarizer().summarize(_request_for(article))
    except SummarizerError:
        return _fail(article, reason)
    validated = validate_output(reply.data, article_text=article.extracted_text, topics=[])
    if not validated.ok:
        return _fail(article, reason)
    outcome = _store(
        article=article,
        summarizer_kind="extractive",
        producer="extractive",
        validated=validated,
        input_hash=input_hash,
        usage=usage,
        cost=cost,
        note=note,
        extra_warnings=[reason, "This is an extractive fallback, not the model's summary."],
        review_reason=reason,
    )
    outcome.result = "review"
    return outcome


def batch_backlog_ready(summarizer: Summarizer) -> bool:
    threshold = settings.SUMMARY_BATCH_THRESHOLD
    if not summarizer.supports_batches or threshold <= 0:
        return False
    return Article.objects.due_for_summary().count() > threshold


# --- The workflow ------------------------------------------------------------------------


def article_summarize(
    *,
    article_id: int,
    note: str = "",
    force: bool = False,
    backend: str | None = None,
    final_attempt: bool = True,
    allow_batch: bool = True,
) -> SummarizeOutcome:
    """Summarise one article; see the module docstring for the rules.

    `final_attempt=False` turns a temporary backend error into SummaryTemporaryError (the
    article goes back to `extracted`); on the final attempt it fails the article instead.
    `allow_batch=False` stops a large backlog from deferring this article to a batch (used
    for per-item fallback from a batch, and by the command).
    """
    article = Article.objects.select_related("source").filter(pk=article_id).first()
    if article is None:
        return SummarizeOutcome(article_id, "skipped", "no such article")
    allowed = (Status.EXTRACTED, *REGENERATE_FROM) if force else (Status.EXTRACTED,)
    if article.status not in allowed:
        return SummarizeOutcome(article_id, "skipped", f"article is {article.status}")
    if article.duplicate_of_id and not force:
        # A copy is covered by its original's summary: whoever queued it, no model call.
        return SummarizeOutcome(article_id, "skipped", f"a copy of article {article.duplicate_of_id}")
    if not article.extracted_text.strip():
        if not _claim(article):
            return SummarizeOutcome(article_id, "skipped", "claimed by another worker")
        return _fail(article, "No extracted text to summarise.")

    summarizer = get_summarizer(backend)
    input_hash = summary_input_hash(article=article, model=summarizer.model, note=note)

    if not force:
        existing = Summary.objects.filter(article=article, input_hash=input_hash).order_by("-version").first()
        if existing is not None:
            if _claim(article, reason="unchanged input"):
                with contextlib.suppress(StaleState):  # released meanwhile: the sweeper's run decides
                    _move(
                        article, Status.IN_REVIEW, reason=f"Unchanged input: kept version {existing.version}."
                    )
            return SummarizeOutcome(article_id, "reused", f"version {existing.version}", existing.pk)

    if summarizer.kind == "ai" and budget.budget_exhausted():
        reason = "Waiting: the daily summary budget is spent; summarising resumes at midnight UTC."
        article.explain_status(reason)
        return SummarizeOutcome(article_id, "paused", reason)

    if allow_batch and not force and batch_backlog_ready(summarizer):
        reason = "Waiting for the next Message Batch (large backlog, half price)."
        article.explain_status(reason)
        return SummarizeOutcome(article_id, "deferred", reason)

    if not _claim(article):
        return SummarizeOutcome(article_id, "skipped", "claimed by another worker")
    token, live = _claim_token(article), article.summarizing_since is not None
    try:
        return _summarize_claimed(
            article=article,
            summarizer=summarizer,
            note=note,
            input_hash=input_hash,
            final_attempt=final_attempt,
        )
    except StaleState:
        # The sweeper released our claim while the model was answering (we were presumed
        # dead); whoever holds the article now decides. Our version was rolled back.
        logger.warning("Article %s: claim released meanwhile; the result was not stored.", article_id)
        return SummarizeOutcome(article_id, "skipped", "the claim was released meanwhile; nothing stored")
    except (OperationalError, InterfaceError) as exc:
        # The database dropped us mid-run (failover, restart, terminated backend). Put the
        # article back so the task's retry can claim it again; if even that fails, the
        # sweeper releases it once it counts as stuck (docs/faults.md).
        _release_after_database_error(article, token=token, live=live)
        raise SummaryTemporaryError(f"database connection lost: {exc}") from exc


def _recheck_connection() -> None:
    """A model call can take a minute, long enough for the database to drop us. Check the
    connection again as Django does at the start of each request, so the reply we paid for
    is stored rather than lost to a stale connection. Never inside a transaction."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _release_after_database_error(article: Article, *, token: datetime, live: bool) -> bool:
    """summarizing → extracted under our own claim token only (a live regenerate clears its
    claim instead), after a fresh connection; a few quick tries, since a dropped connection
    is usually back in a second."""
    # The in-memory copy may show a move whose transaction never committed: start again from
    # what our claim wrote.
    claimed = Article(
        pk=article.pk,
        status=Status.SUMMARIZING,
        status_changed_at=token,
        summarizing_since=token if live else None,
    )
    for pause in (0.0, 0.5, 1.0, 2.0):
        time.sleep(pause)
        try:
            connection.close()  # discard the broken connection; the next query reconnects
            if live:
                claimed.release_live_claim(token)
            else:
                claimed.transition_to(
                    Status.EXTRACTED, reason="Retrying after the database connection was lost.", token=token
                )
            return True
        except StaleState:
            return False  # no longer ours: the sweeper released it already
        except (OperationalError, InterfaceError):
            continue
    logger.warning("Article %s stays in summarizing until the sweeper releases it.", article.pk)
    return False


def _summarize_claimed(
    *, article: Article, summarizer: Summarizer, note: str, input_hash: str, final_attempt: bool
) -> SummarizeOutcome:
    """The model calls for an article we have claimed (see article_summarize)."""
    usage, cost = Usage(), Decimal("0")
    errors: list[str] = []
    for _try in range(2):
        request = _request_for(article, note=note, previous_errors=errors)
        try:
            reply = summarizer.summarize(request)
        except SummarizerError as exc:
            _recheck_connection()
            _record_call(
                article=article, summarizer=summarizer, usage=exc.usage, outcome="error", error=str(exc)
            )
            if exc.retryable and not final_attempt:
                _move(article, Status.EXTRACTED, reason=f"Retrying after: {exc}", action="summarize-retry")
                raise SummaryTemporaryError(str(exc), retry_after=exc.retry_after) from exc
            return _fail(article, f"Summary backend error: {exc}")
        _recheck_connection()
        validated = validate_output(reply.data, article_text=article.extracted_text, topics=request.topics)
        call_cost = _record_call(
            article=article,
            summarizer=summarizer,
            usage=reply.usage,
            outcome="ok" if validated.ok else "invalid-output",
            error="; ".join(validated.errors),
        )
        usage, cost = usage + reply.usage, cost + call_cost
        if validated.ok:
            return _store(
                article=article,
                summarizer_kind=summarizer.kind,
                producer=reply.model,
                validated=validated,
                input_hash=input_hash,
                usage=usage,
                cost=cost,
                note=note,
            )
        errors = validated.errors
    return _fallback_extractive(
        article=article, input_hash=input_hash, usage=usage, cost=cost, note=note, errors=errors
    )
