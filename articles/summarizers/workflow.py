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

from . import budget, faithfulness
from .backends import cost_of, get_summarizer
from .base import SourceDocument, Summarizer, SummarizerError, SummaryRequest, Usage
from .extractive import ExtractiveSummarizer
from .grounding import check_grounding, check_story_grounding
from .prompt import PROMPT_VERSION
from .schema import StorySummaryOutput
from .sources import sources_field, story_documents, summary_as_text
from .validation import ValidationOutcome, validate_output, validate_story_output

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
    result: str  # summarized, reused, review, failed, paused, deferred, skipped, unchanged
    detail: str = ""
    summary_id: int | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal("0")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["cost_usd"] = str(self.cost_usd)
        return data


def summary_input_hash(
    *, article: Article, model: str, note: str = "", documents: list[SourceDocument] = ()
) -> str:
    """What a summary was made from: the text (every source's, for a story summary), the
    prompt version, the model and the editor's note. The same input is never paid twice."""
    parts = [article.content_hash or hashlib.sha256(article.extracted_text.encode()).hexdigest()]
    parts += [hashlib.sha256(d.text.encode()).hexdigest() for d in documents[1:]]
    return hashlib.sha256(f"{'+'.join(parts)}|{PROMPT_VERSION}|{model}|{note.strip()}".encode()).hexdigest()


def retry_delay(attempt: int, retry_after: float | None = None, *, cap: float = 300.0) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s ... up to `cap`), never shorter than
    the server's retry-after. Jitter spreads a herd of workers hit by the same outage."""
    base = min(cap, 5.0 * 2 ** max(0, attempt - 1))
    delay = random.uniform(base / 2, base)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap) + random.uniform(0, 1))
    return delay


def _request_for(
    article: Article,
    *,
    note: str = "",
    previous_errors: list[str] | None = None,
    documents: list[SourceDocument] = (),
) -> SummaryRequest:
    """One article's request, or its story's when `documents` numbers several sources; a
    story that already has a summary sends it along, so the model can say what is new."""
    current = summary_as_text(article.current_summary or article.latest_summary) if documents else ""
    return SummaryRequest(
        title=article.title,
        source=article.source.name,
        text=article.extracted_text,
        topics=list(Topic.objects.values_list("name", flat=True)),
        note=note,
        previous_errors=previous_errors or [],
        documents=list(documents),
        current_summary=current,
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
    documents: list[SourceDocument] = (),
    extra_warnings: list[str] = (),
    review_reason: str = "",
) -> SummarizeOutcome:
    """Save the next summary version and move the article to review (or auto-publish), in one
    transaction: the version is kept only if the move under our claim token succeeds.

    A story update the model found adds nothing (update.is_new false) stores no version: the
    claim is released and the article stays where it was."""
    output = validated.output
    assert output is not None
    checked = _checked_fields(output, article, documents, requested=bool(note.strip()))
    if checked is None:
        reason = f"The {len(documents) - 1} other report(s) add nothing to the summary readers have."
        _move(article, Status.IN_REVIEW, reason=reason, attention=False, action="summarize-unchanged")
        return SummarizeOutcome(article.pk, "unchanged", reason, None, usage, cost)
    warnings = list(extra_warnings) + validated.warnings
    # A point with one good quote still counts as grounded, but a fabricated quote beside it
    # must not slip through unseen: it becomes a warning, which also blocks auto-publish.
    warnings += [f"Evidence quote not found in the article: {q}" for q in checked.pop("unverified_quotes")]
    warnings += [f"Not in the cited sources: {f['text']} ({f['field']})" for f in checked["unverified_facts"]]
    with transaction.atomic():
        summary = Summary.create_version(
            article=article,
            kind=Summary.Kind.AI if summarizer_kind == "ai" else Summary.Kind.EXTRACTIVE,
            producer=producer,
            prompt_version=PROMPT_VERSION,
            input_hash=input_hash,
            key_takeaway=output.key_takeaway,
            suggested_topics=output.suggested_topics,
            validation_warnings=warnings,
            **checked,
            **dataclasses.asdict(usage),  # the four token counts, named as on the models
            cost_usd=cost,
            editor_note=note,
        )
        reason = review_reason or (
            f"Flagged: grounding {summary.grounding_score:.2f}, {len(warnings)} warning(s)"
            + (f", sources differ on {len(summary.disagreements)} fact(s)" if summary.disagreements else "")
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


def _checked_fields(
    output, article: Article, documents: list[SourceDocument], *, requested: bool = False
) -> dict | None:
    """The summary's checked content as Summary fields: points and FAQ (with per-source
    citations for a story), grounding, unverified claims and facts. None when a story update
    brings nothing new, unless the summary it would replace cites a report that is no longer
    among the sources (moved to another story, rejected): that version is stored, as a
    correction without an update line, or the story would be rewritten again at every refresh.
    An editor's note (`requested`) asked for a new version: it is stored too, without a line.

    The grounding score is the share of checked items that hold up: each key point and FAQ
    answer counts once (grounded if one of its quotes is verified), and each number, date,
    amount or name no cited source contains counts as one more unverified item."""
    if isinstance(output, StorySummaryOutput):
        update = output.update
        updating = bool(summary_as_text(article.current_summary or article.latest_summary))
        # The latest version is the one the story's refresh weighs (updates.py).
        dropped = _drops_a_source(article.latest_summary, documents)
        if updating and update is not None and not update.is_new and not dropped and not requested:
            return None
        report = check_story_grounding(output, documents)
        key_points, faq = report.key_points, report.faq
        # A source's name and headline are part of what the model read in its fence: naming
        # the publication ("according to the Bayside Courier") or a figure from the headline
        # is no invention.
        texts = {d.n: f"{d.source}\n{d.title}\n{d.text}" for d in documents}
        extra = {
            "sources": sources_field(documents),
            "disagreements": [d.model_dump() for d in output.disagreements],
            "update_line": update.line.strip() if updating and update is not None and update.is_new else "",
        }
    else:
        report = check_grounding(output, article.extracted_text)
        key_points = [p.model_dump() for p in output.key_points]
        faq = [q.model_dump() for q in output.faq]
        texts = {1: article.extracted_text}
        extra = {}
    unverified_facts = _unverified_facts(
        takeaway=output.key_takeaway,
        key_points=key_points,
        faq=faq,
        texts=texts,
        update_line=extra.get("update_line", ""),
        disagreements=extra.get("disagreements", ()),
    )
    items = len(key_points) + len(faq)
    grounded = round(report.score * items)
    score = grounded / (items + len(unverified_facts)) if items else 0.0
    return {
        "key_points": key_points,
        "faq": faq,
        "grounding_score": round(score, 4),
        "unverified_claims": report.unverified_claims,
        "unverified_facts": unverified_facts,
        "unverified_quotes": report.unverified_quotes,
        **extra,
    }


def _drops_a_source(previous: Summary | None, documents: list[SourceDocument]) -> bool:
    """Whether `previous` cites a report the new sources do not include."""
    if previous is None:
        return False
    cited = {row.get("article_id") for row in previous.sources} - {None}
    return bool(cited - {d.article_id for d in documents})


def _unverified_facts(
    *,
    takeaway: str,
    key_points: list[dict],
    faq: list[dict],
    texts: dict[int, str],
    update_line: str = "",
    disagreements: list[dict] = (),
) -> list[dict]:
    """Numbers, dates, amounts and names of the summary that its sources do not contain
    (summarizers/faithfulness.py). Everything readers or the desk see is checked:

    - a key point or FAQ answer against the sources it cites (verified citations; all of them
      when it has none verified);
    - the takeaway, each FAQ question and the update line against every source: they frame
      or sum up, and a question's facts need not be the answer's;
    - what a disagreement says a source says against that source alone, so a disagreement
      cannot put one source's figure, or an invented one, in another's mouth; the fact in
      dispute against every source."""
    index = {n: faithfulness.FactIndex(text) for n, text in texts.items()}
    everything = list(index.values())

    def cited(row: dict) -> list:
        citations = row.get("citations")
        if not citations:
            return everything
        numbers = {c["source"] for c in citations if c.get("verified")} or {c["source"] for c in citations}
        return [index[n] for n in numbers if n in index] or everything

    rows = [("key_takeaway", takeaway, everything)]
    rows += [(f"key_points[{i}]", p["text"], cited(p)) for i, p in enumerate(key_points)]
    for i, q in enumerate(faq):
        rows += [(f"faq[{i}].question", q["question"], everything), (f"faq[{i}]", q["answer"], cited(q))]
    if update_line:
        rows.append(("update_line", update_line, everything))
    for i, d in enumerate(disagreements):
        rows.append((f"disagreements[{i}].fact", d["fact"], everything))
        # A claim naming a source the request did not give was refused by validation.
        rows += [
            (
                f"disagreements[{i}].claims[{j}]",
                c["says"],
                [index[c["source"]]] if c["source"] in index else [],
            )
            for j, c in enumerate(d["claims"])
        ]
    found = []
    for where, text, sources in rows:
        found += [
            {"field": where, "kind": fact.kind, "text": fact.text}
            for fact in faithfulness.unsupported_facts(text, sources)
        ]
    return found


def _auto_publishable(article: Article, summary: Summary) -> bool:
    """Only a trusted source's fully grounded, warning-free summary goes live untouched: no
    unverified quote or fact, and no fact its sources disagree on."""
    return bool(article.source.auto_publish and not summary.is_flagged)


def _fallback_extractive(
    *,
    article: Article,
    input_hash: str,
    usage: Usage,
    cost: Decimal,
    note: str,
    errors: list[str],
    documents: list[SourceDocument] = (),
) -> SummarizeOutcome:
    """The model failed validation twice: give the editor an honest extractive draft, flagged."""
    reason = "AI summary rejected twice by validation: " + "; ".join(errors)[:1500]
    request = _request_for(article, documents=documents)
    try:
        reply = ExtractiveSummarizer().summarize(request)
    except SummarizerError:
        return _fail(article, reason)
    validated = _validate(reply.data, request)
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
        documents=documents,
        extra_warnings=[reason, "This is an extractive fallback, not the model's summary."],
        review_reason=reason,
    )
    if outcome.result != "unchanged":
        outcome.result = "review"
    return outcome


def _validate(data, request: SummaryRequest) -> ValidationOutcome:
    if request.is_story:
        return validate_story_output(
            data,
            documents=request.documents,
            topics=request.topics,
            updating=bool(request.current_summary.strip()),
        )
    return validate_output(data, article_text=request.text, topics=request.topics)


def _covered_by_story(article: Article) -> bool:
    """With story summaries, an article that does not lead its story is not summarised."""
    return Article.objects.covered_by_story().filter(pk=article.pk).exists()


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
    if not force and _covered_by_story(article):
        # Another report leads this article's story: the story's summary covers it.
        return SummarizeOutcome(article_id, "skipped", "another report leads its story")
    if not article.extracted_text.strip():
        if not _claim(article):
            return SummarizeOutcome(article_id, "skipped", "claimed by another worker")
        return _fail(article, "No extracted text to summarise.")

    summarizer = get_summarizer(backend)
    documents = story_documents(article)
    input_hash = summary_input_hash(article=article, model=summarizer.model, note=note, documents=documents)

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

    # A story summary is never batched: its sources may change before a batch ends.
    if allow_batch and not force and not documents and batch_backlog_ready(summarizer):
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
            documents=documents,
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
    *,
    article: Article,
    summarizer: Summarizer,
    note: str,
    input_hash: str,
    final_attempt: bool,
    documents: list[SourceDocument] = (),
) -> SummarizeOutcome:
    """The model calls for an article we have claimed (see article_summarize)."""
    usage, cost = Usage(), Decimal("0")
    errors: list[str] = []
    for _try in range(2):
        request = _request_for(article, note=note, previous_errors=errors, documents=documents)
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
        validated = _validate(reply.data, request)
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
                documents=documents,
            )
        errors = validated.errors
    return _fallback_extractive(
        article=article,
        input_hash=input_hash,
        usage=usage,
        cost=cost,
        note=note,
        errors=errors,
        documents=documents,
    )
