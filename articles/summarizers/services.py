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

import dataclasses
import hashlib
import logging
import os
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from articles.models import Article, AuditEntry, ModelCall, Summary, SummaryBatch, Topic

from . import budget
from .base import BackendReply, Summarizer, SummarizerError, SummaryRequest, Usage
from .extractive import ExtractiveSummarizer
from .grounding import check_grounding
from .prompt import PROMPT_VERSION
from .validation import ValidationOutcome, validate_output

logger = logging.getLogger(__name__)

Status = Article.Status
REGENERATE_FROM = (Status.IN_REVIEW, Status.PUBLISHED, Status.REJECTED)
MAX_BATCH_SIZE = 10_000  # the API allows 100,000; smaller batches finish and fail smaller
BATCH_DISCOUNT = Decimal("0.5")


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


# --- Backends, prices and hashes -----------------------------------------------------


_backends: dict[tuple, Summarizer] = {}
_backends_lock = threading.Lock()


def get_summarizer(name: str | None = None) -> Summarizer:
    """The configured backend. Clients are reused across calls and threads (httpx clients are
    thread-safe): building one per article costs a TLS context and a connection pool each time."""
    name = name or settings.SUMMARY_BACKEND
    if name == "anthropic":
        from .anthropic_backend import AnthropicSummarizer as backend_class
    elif name == "openai_compat":
        from .openai_compat import OpenAICompatSummarizer as backend_class
    elif name == "extractive":
        return ExtractiveSummarizer()
    else:
        raise ValueError(f"Unknown summary backend {name!r}; use anthropic, openai_compat or extractive.")
    key = (
        name,
        settings.ANTHROPIC_MODEL,
        settings.ANTHROPIC_API_KEY,
        os.environ.get("ANTHROPIC_BASE_URL", ""),  # read by the SDK itself
        settings.OPENAI_COMPAT_BASE_URL,
        settings.OPENAI_COMPAT_MODEL,
        settings.OPENAI_COMPAT_API_KEY,
        settings.SUMMARY_MODEL_TIMEOUT_SECONDS,
    )
    with _backends_lock:
        if key not in _backends:
            _backends[key] = backend_class()
        return _backends[key]


def price_for(model: str) -> dict[str, Decimal] | None:
    """Prices for `model`, matching dated snapshots ("claude-haiku-4-5-20251001") by prefix."""
    prices = settings.SUMMARY_PRICES
    key = model if model in prices else max((k for k in prices if model.startswith(k)), key=len, default=None)
    if key is None:
        return None
    return {name: Decimal(str(value)) for name, value in prices[key].items()}


def cost_of(usage: Usage, model: str, *, batch: bool = False) -> Decimal:
    """USD for one call from SUMMARY_PRICES (per million tokens). Unknown models cost 0."""
    prices = price_for(model)
    if prices is None:
        return Decimal("0")
    total = (
        usage.input_tokens * prices.get("input", Decimal(0))
        + usage.output_tokens * prices.get("output", Decimal(0))
        + usage.cache_write_tokens * prices.get("cache_write", Decimal(0))
        + usage.cache_read_tokens * prices.get("cache_read", Decimal(0))
    ) / Decimal(1_000_000)
    if batch:
        total *= BATCH_DISCOUNT
    return total.quantize(Decimal("0.000001"))


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


# --- Status moves (each one a compare-and-set, each one audited) ---------------------


def _claim(article: Article, *, reason: str = "") -> bool:
    """Move the article to `summarizing` only if nobody else changed it since we read it.

    A published article keeps its status (it stays on the site); its claim is
    `summarizing_since`, set only where it is still NULL."""
    now = timezone.now()
    if article.status == Status.PUBLISHED:
        claimed = Article.objects.filter(
            pk=article.pk, status=Status.PUBLISHED, summarizing_since__isnull=True
        ).update(summarizing_since=now, summary_attempts=F("summary_attempts") + 1)
        if claimed:
            AuditEntry.record(
                "summarize",
                article=article,
                from_status=Status.PUBLISHED,
                to_status=Status.PUBLISHED,
                automatic=True,
                reason=reason or "Regenerating while the approved summary stays live.",
            )
            article.summarizing_since = now
        return bool(claimed)
    claimed = Article.objects.filter(pk=article.pk, status=article.status).update(
        status=Status.SUMMARIZING,
        status_reason=reason,
        status_changed_at=now,
        summary_attempts=F("summary_attempts") + 1,
    )
    if claimed:
        AuditEntry.record(
            "summarize",
            article=article,
            from_status=article.status,
            to_status=Status.SUMMARIZING,
            automatic=True,
            reason=reason,
        )
        article.status, article.status_reason, article.status_changed_at = Status.SUMMARIZING, reason, now
    return bool(claimed)


def _move(
    article: Article,
    to_status: str,
    *,
    reason: str,
    action: str = "summarize",
    attention: bool = True,
    **details,
) -> bool:
    """summarizing → `to_status`, only if the article is still ours (still summarizing).

    For a live regenerate (claimed on summarizing_since) the status stays `published`: the
    claim is released instead, and a result for review (`to_status` in_review) sets
    needs_attention unless `attention=False` (auto-publish follows)."""
    if article.summarizing_since is not None:
        return _release_live(
            article,
            reason=reason,
            action=action,
            attention=attention and to_status == Status.IN_REVIEW,
            **details,
        )
    moved = Article.objects.filter(pk=article.pk, status=Status.SUMMARIZING).update(
        status=to_status, status_reason=reason, status_changed_at=timezone.now()
    )
    if moved:
        AuditEntry.record(
            action,
            article=article,
            from_status=Status.SUMMARIZING,
            to_status=to_status,
            reason=reason,
            automatic=True,
            **details,
        )
        article.status, article.status_reason = to_status, reason
    return bool(moved)


def _release_live(article: Article, *, reason: str, action: str, attention: bool, **details) -> bool:
    """Clear our own live claim (same token); the article never leaves the site."""
    changes: dict = {"summarizing_since": None}
    if attention:
        changes.update(needs_attention=True, status_reason=reason or "A regenerated version awaits review.")
    released = Article.objects.filter(pk=article.pk, summarizing_since=article.summarizing_since).update(
        **changes
    )
    if released:
        AuditEntry.record(
            action,
            article=article,
            from_status=article.status,
            to_status=article.status,
            reason=changes.get("status_reason", reason),
            automatic=True,
            **details,
        )
        for name, value in changes.items():
            setattr(article, name, value)
    return bool(released)


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
    """Save the next summary version and move the article to review (or auto-publish)."""
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
        moved = _move(
            article,
            Status.IN_REVIEW,
            reason=reason,
            attention=not auto,
            version=summary.version,
            producer=producer,
        )
        if moved and auto:
            article.refresh_from_db()
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
    if not article.extracted_text.strip():
        if _claim(article):
            return _fail(article, "No extracted text to summarise.")
        return SummarizeOutcome(article_id, "skipped", "claimed by another worker")

    summarizer = get_summarizer(backend)
    input_hash = summary_input_hash(article=article, model=summarizer.model, note=note)

    if not force:
        existing = Summary.objects.filter(article=article, input_hash=input_hash).order_by("-version").first()
        if existing is not None:
            if _claim(article, reason="unchanged input"):
                _move(article, Status.IN_REVIEW, reason=f"Unchanged input: kept version {existing.version}.")
            return SummarizeOutcome(article_id, "reused", f"version {existing.version}", existing.pk)

    if summarizer.kind == "ai" and budget.budget_exhausted():
        reason = "Waiting: the daily summary budget is spent; summarising resumes at midnight UTC."
        Article.objects.filter(pk=article.pk, status=Status.EXTRACTED).update(status_reason=reason)
        return SummarizeOutcome(article_id, "paused", reason)

    if allow_batch and not force and batch_backlog_ready(summarizer):
        reason = "Waiting for the next Message Batch (large backlog, half price)."
        Article.objects.filter(pk=article.pk, status=Status.EXTRACTED).update(status_reason=reason)
        return SummarizeOutcome(article_id, "deferred", reason)

    if not _claim(article):
        return SummarizeOutcome(article_id, "skipped", "claimed by another worker")
    claimed_at = article.summarizing_since or article.status_changed_at
    try:
        return _summarize_claimed(
            article=article,
            summarizer=summarizer,
            note=note,
            input_hash=input_hash,
            final_attempt=final_attempt,
        )
    except (OperationalError, InterfaceError) as exc:
        # The database dropped us mid-run (failover, restart, terminated backend). Put the
        # article back so the task's retry can claim it again; if even that fails, the
        # sweeper releases it once it counts as stuck (issue #9, docs/faults.md).
        _release_after_database_error(article, claimed_at=claimed_at)
        raise SummaryTemporaryError(f"database connection lost: {exc}") from exc


def _recheck_connection() -> None:
    """A model call can take a minute, long enough for the database to drop us. Check the
    connection again as Django does at the start of each request, so the reply we paid for
    is stored rather than lost to a stale connection. Never inside a transaction."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _release_after_database_error(article: Article, *, claimed_at) -> bool:
    """summarizing → extracted for our own claim only (same status_changed_at), after a fresh
    connection; a few quick tries, since a dropped connection is usually back in a second."""
    for pause in (0.0, 0.5, 1.0, 2.0):
        time.sleep(pause)
        try:
            connection.close()  # discard the broken connection; the next query reconnects
            if article.summarizing_since is not None:  # a live regenerate: clear our token
                return bool(
                    Article.objects.filter(pk=article.pk, summarizing_since=claimed_at).update(
                        summarizing_since=None
                    )
                )
            return bool(
                Article.objects.filter(
                    pk=article.pk, status=Status.SUMMARIZING, status_changed_at=claimed_at
                ).update(
                    status=Status.EXTRACTED,
                    status_reason="Retrying after the database connection was lost.",
                    status_changed_at=timezone.now(),
                )
            )
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


def article_retry_failed(*, article: Article) -> bool:
    """The admin's "retry summary": failed → extracted, ready for summarize_article."""
    if article.status != Status.FAILED:
        return False
    from_status = article.status
    article.transition_to(Status.EXTRACTED, reason="Retry requested from the admin.")
    AuditEntry.record("summarize-retry", article=article, from_status=from_status, to_status=Status.EXTRACTED)
    return True


# --- Sweeper -------------------------------------------------------------------------------


def _batched_article_ids() -> set[int]:
    ids: set[int] = set()
    for article_ids in SummaryBatch.objects.filter(status="in_progress").values_list(
        "article_ids", flat=True
    ):
        ids.update(article_ids)
    return ids


def summaries_sweep(*, limit: int = 500) -> list[int]:
    """Find articles that would otherwise never be summarised; return the ids to enqueue.

    - Stuck in `summarizing` longer than SUMMARY_STUCK_AFTER_SECONDS (the worker died):
      put back to `extracted`. Articles inside an unfinished Message Batch are not stuck.
    - Waiting in `extracted` that long (a lost message, the budget pause, a retry that never
      ran): enqueue again. Claiming is compare-and-set, so a duplicate task is harmless.
    """
    age = settings.SUMMARY_STUCK_AFTER_SECONDS
    released: list[int] = []
    stuck = Article.objects.stuck_summarizing(age).exclude(pk__in=_batched_article_ids())
    for article in stuck[:limit]:
        # Conditioned on status_changed_at too: if a worker moved it meanwhile, leave it be.
        if Article.objects.filter(
            pk=article.pk, status=Status.SUMMARIZING, status_changed_at=article.status_changed_at
        ).update(
            status=Status.EXTRACTED,
            status_reason="Re-queued by the sweeper.",
            status_changed_at=timezone.now(),
        ):
            released.append(article.pk)
            AuditEntry.record(
                "summarize-sweep",
                article=article,
                from_status=Status.SUMMARIZING,
                to_status=Status.EXTRACTED,
                reason=f"Stuck in summarizing for more than {age} s (worker lost).",
                automatic=True,
            )
    for article in Article.objects.stuck_regenerating(age)[:limit]:
        # A lost live regenerate: clear the claim and tell the desk. Not re-enqueued, since
        # the editor's note to the model is not kept; the editor regenerates again.
        reason = f"A regenerate was lost (worker gone for more than {age} s); regenerate again."
        if Article.objects.filter(pk=article.pk, summarizing_since=article.summarizing_since).update(
            summarizing_since=None, needs_attention=True, status_reason=reason
        ):
            AuditEntry.record(
                "summarize-sweep",
                article=article,
                from_status=article.status,
                to_status=article.status,
                reason=reason,
                automatic=True,
            )
    if settings.SUMMARY_BACKEND != "extractive" and budget.budget_exhausted():
        return []  # they would only pause again; the first sweep after midnight picks them up
    cutoff = timezone.now() - timezone.timedelta(seconds=age)
    waiting = (
        Article.objects.due_for_summary().filter(status_changed_at__lt=cutoff).order_by("status_changed_at")
    )
    return released + list(waiting.values_list("pk", flat=True)[: max(0, limit - len(released))])


# --- Message Batches -----------------------------------------------------------------------


def batch_backlog_ready(summarizer: Summarizer) -> bool:
    threshold = settings.SUMMARY_BATCH_THRESHOLD
    if not summarizer.supports_batches or threshold <= 0:
        return False
    return Article.objects.due_for_summary().count() > threshold


def summaries_submit_batch(*, backend: str | None = None) -> SummaryBatch | None:
    """Send the backlog as one Message Batch when it is larger than SUMMARY_BATCH_THRESHOLD."""
    summarizer = get_summarizer(backend)
    if not batch_backlog_ready(summarizer) or budget.budget_exhausted():
        return None
    requests: dict[str, SummaryRequest] = {}
    claimed: list[Article] = []
    for article in Article.objects.due_for_summary().select_related("source")[:MAX_BATCH_SIZE]:
        if article.extracted_text.strip() and _claim(article, reason="In a Message Batch."):
            claimed.append(article)
            requests[str(article.pk)] = _request_for(article)
    if not claimed:
        return None
    try:
        batch_id = summarizer.batch_create(requests)  # type: ignore[attr-defined]
    except SummarizerError as exc:
        for article in claimed:
            _move(
                article, Status.EXTRACTED, reason=f"Batch submission failed: {exc}", action="summarize-retry"
            )
        logger.warning("Message batch submission failed: %s", exc)
        return None
    return SummaryBatch.objects.create(batch_id=batch_id, article_ids=[a.pk for a in claimed])


def summaries_poll_batches(*, backend: str | None = None) -> list[int]:
    """Store results of finished batches; return ids that need a single call (per-item fallback)."""
    summarizer = get_summarizer(backend)
    if not summarizer.supports_batches:
        return []
    fallback: list[int] = []
    for batch in SummaryBatch.objects.filter(status="in_progress"):
        try:
            if summarizer.batch_status(batch.batch_id) != "ended":  # type: ignore[attr-defined]
                continue
            results = summarizer.batch_results(batch.batch_id)  # type: ignore[attr-defined]
        except SummarizerError as exc:
            logger.warning("Polling batch %s failed: %s", batch.batch_id, exc)
            continue
        articles = Article.objects.select_related("source").in_bulk(batch.article_ids)
        for article_id in batch.article_ids:
            article = articles.get(article_id)
            if article is None or article.status != Status.SUMMARIZING:
                continue
            if not _store_batch_item(article, results.get(str(article_id)), summarizer):
                fallback.append(article_id)
        batch.status, batch.finished_at = "ended", timezone.now()
        batch.save(update_fields=["status", "finished_at"])
    return fallback


def _store_batch_item(article: Article, result: BackendReply | str | None, summarizer: Summarizer) -> bool:
    """Store one batch result; on any problem release the article for a single call."""
    if isinstance(result, BackendReply):
        topics = list(Topic.objects.values_list("name", flat=True))
        validated = validate_output(result.data, article_text=article.extracted_text, topics=topics)
        cost = _record_call(
            article=article,
            summarizer=summarizer,
            usage=result.usage,
            outcome="batch" if validated.ok else "invalid-output",
            error="; ".join(validated.errors),
            batch=True,
        )
        if validated.ok:
            _store(
                article=article,
                summarizer_kind=summarizer.kind,
                producer=result.model,
                validated=validated,
                input_hash=summary_input_hash(article=article, model=summarizer.model),
                usage=result.usage,
                cost=cost,
                note="",
            )
            return True
        reason = "Batch output failed validation; retrying alone."
    else:
        reason = f"Batch item failed ({result or 'missing from results'}); retrying alone."
    _move(article, Status.EXTRACTED, reason=reason, action="summarize-retry")
    return False
