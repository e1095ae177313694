""" "What to watch" followed up: a published story summary's What-to-watch point is kept as
open questions on its story, and a later report that may answer one is proposed to the desk.

Rules:
- **One question per sentence** of the point (at most MAX_QUESTIONS_PER_POINT). A point often
  names two things to watch ("The council votes in March. Opponents may go to court."); a
  later report answers one of them, and a short sentence is matched more sharply than the whole
  point. A fragment too short to be matched on its own (fewer than MIN_SHARED_TERMS terms)
  stays with the sentence before it.
- **Questions follow the story's summary** (`story_questions_sync`): the summary that stands for
  the story is the current (latest approved) summary of its lead while the lead is on the site,
  else of its earliest article on the site, as readers see it. When a newer version of it is
  published, the story's still-open questions it drops are closed (dismissed, by the
  system), those it asks again are kept as they are, new sentences become new questions, and a
  question the system closed earlier is reopened when a version asks it again. A question an
  editor decided (accepted, dismissed) or that waits for one (proposed) is never touched.
  Publishing the same version twice changes nothing.
- **Proposals** (`answers_propose`): a newly grouped original article is compared with the
  open questions asked before it was published, of stories seen within STORY_FOLLOWUP_DAYS
  (its own story included, stories merged away excluded), by the grouping's TF-IDF similarity
  (similarity.py: the article's title and lead against the question's words, weighted by the
  document frequencies grouping keeps). A question sharing at least MIN_SHARED_TERMS terms
  with the article and scoring STORY_FOLLOWUP_THRESHOLD or more moves open → proposed with
  the article, its story and the score; at most PROPOSALS_PER_ARTICLE per article, best first.
  A proposal an editor rejected for this article is never made again.
- **Bounded cost**: questions are found through their terms (QuestionTerm, looked up by the
  article's LOOKUP_TERMS heaviest terms), and at most CANDIDATES of them, those sharing the most
  of those terms, are scored.
  The index holds only questions that may still be answered, of recently seen stories
  (`question_index_prune`).
- Every status change goes through OpenQuestion.transition_to (a compare-and-set: a question
  an editor dismissed meanwhile is left alone), is recorded in the audit log (automatic) and
  sends open_question_changed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from articles.models import (
    KEY_POINT_HEADINGS,
    Article,
    AuditEntry,
    OpenQuestion,
    QuestionTerm,
    StaleQuestion,
    Story,
    Summary,
)

from .grouping import LOOKUP_TERMS
from .similarity import term_counts, tfidf
from .store import DatabaseStore

WATCH_HEADING = KEY_POINT_HEADINGS[2]
# Only this much of a What-to-watch point is read: a point is a sentence or two.
MAX_WATCH_CHARACTERS = 1000
MAX_QUESTIONS_PER_POINT = 4
# A question and a report must share this many terms before their similarity counts: two
# shared rare words (a name and a place) alone make a high cosine between short texts, and
# on the labelled pairs this gate removes most false proposals at no cost in recall.
MIN_SHARED_TERMS = 3
# Candidate questions are looked up by the article's LOOKUP_TERMS heaviest terms (as grouping
# looks up stories) and must share LOOKUP_SHARED of them; the CANDIDATES sharing most are scored.
# On the labelled pairs no proposal is lost to the lookup; bench/followups.py measures the cost.
LOOKUP_SHARED = 2
CANDIDATES = 50
PROPOSALS_PER_ARTICLE = 3
# Words after which a full stop does not end a sentence ("Mr. Smith", "Nov. 30").
ABBREVIATIONS = frozenset(
    """mr mrs ms dr st jr sr prof gen gov sen rep lt col sgt capt rev mt ft no nos vs etc inc ltd co
    corp dept est approx jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e""".split()
)
_OPENERS = "\"'“‘("

Status = OpenQuestion.Status


# --- Questions from a summary ---------------------------------------------------------------


def watch_sentences(text: str) -> list[str]:
    """The sentences of a What-to-watch point, in order: split after ".", "?" or "!" followed by
    a space and a capital letter, digit or opening quote, except after an abbreviation or an
    initial. Linear in the (capped) text; no regular expression."""
    text = " ".join(text[:MAX_WATCH_CHARACTERS].split())
    sentences: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if char not in ".?!" or i + 2 >= len(text) or text[i + 1] != " ":
            continue
        following = text[i + 2]
        if not (following.isupper() or following.isdigit() or following in _OPENERS):
            continue
        last_word = text[start:i].rsplit(" ", 1)[-1].lstrip(_OPENERS).lower()
        if char == "." and (last_word in ABBREVIATIONS or len(last_word) == 1):
            continue
        sentences.append(text[start : i + 1])
        start = i + 2
    if text[start:].strip():
        sentences.append(text[start:].strip())
    merged: list[str] = []
    for sentence in sentences:
        # A fragment too short to match on its own joins the sentence before it, and a short
        # opening sentence the one after it.
        if merged and (
            len(question_terms(sentence)) < MIN_SHARED_TERMS
            or len(question_terms(merged[-1])) < MIN_SHARED_TERMS
        ):
            merged[-1] = f"{merged[-1]} {sentence}"
        else:
            merged.append(sentence)
    return merged[:MAX_QUESTIONS_PER_POINT]


def question_terms(text: str) -> set[str]:
    """The terms a question is indexed and matched by (grouping's terms of a title)."""
    return set(term_counts(text, ""))


def what_to_watch(summary: Summary) -> str:
    """The text of the summary's What-to-watch point ("" when it has none)."""
    for point in summary.key_points or []:
        if isinstance(point, dict) and point.get("heading") == WATCH_HEADING:
            return str(point.get("text") or "")
    return ""


def story_summary(story_id: int) -> Summary | None:
    """The summary that stands for the story: the current summary of its lead while the lead is
    on the site, else of its earliest article on the site (not a copy of one on the site), as
    the reader site shows it (articles/reader/stories.py). Two queries."""
    on_site = list(
        Article.objects.published()
        .filter(story_id=story_id)
        .order_by("published_at", "pk")
        .values_list("pk", "duplicate_of_id", "story__lead_id")
    )
    published = {pk for pk, _, _ in on_site}
    pages = [pk for pk, copy_of, _ in on_site if copy_of not in published]
    if not pages:
        return None
    lead_id = on_site[0][2]
    shown = lead_id if lead_id in pages else pages[0]
    return Summary.objects.approved().filter(article_id=shown).order_by("-version").first()


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class QuestionSync:
    """What story_questions_sync did: question ids created, kept, closed and reopened."""

    story_id: int
    summary_id: int | None = None
    created: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    dismissed: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def story_questions_sync(*, story_id: int) -> QuestionSync:
    """Make the story's open questions those of the summary that stands for it now (see the
    module docstring). Idempotent; one transaction holding the story's row, so two
    publications in one story at once do not both create the same question. A story without
    a published summary is left alone."""
    outcome = QuestionSync(story_id=story_id)
    with transaction.atomic():
        if Story.objects.select_for_update().filter(pk=story_id).first() is None:
            return outcome
        summary = story_summary(story_id)
        if summary is None:
            return outcome
        outcome.summary_id = summary.pk
        wanted = {_key(sentence): sentence for sentence in watch_sentences(what_to_watch(summary))}
        existing = list(OpenQuestion.objects.filter(story_id=story_id).order_by("pk"))
        asked = {_key(question.text) for question in existing}
        live = {
            _key(question.text)
            for question in existing
            if question.status in (Status.OPEN, Status.PROPOSED, Status.ACCEPTED)
        }
        for question in existing:
            key = _key(question.text)
            if question.status == Status.OPEN:
                if key in wanted:
                    outcome.kept.append(question.pk)
                elif _change(question, Status.DISMISSED, action="question_replace", summary=summary):
                    outcome.dismissed.append(question.pk)
            elif (
                question.status == Status.DISMISSED
                and question.decided_by_id is None
                and key in wanted
                and key not in live
                and _change(question, Status.OPEN, action="question_reopen", summary=summary)
            ):
                live.add(key)
                _index([question])
                outcome.reopened.append(question.pk)
        new = [
            OpenQuestion(story_id=story_id, summary=summary, text=text)
            for key, text in wanted.items()
            if key not in asked
        ]
        if new:
            created = OpenQuestion.objects.bulk_create(new)
            _index(created)
            outcome.created = [question.pk for question in created]
    return outcome


def _change(question: OpenQuestion, status: str, *, action: str, summary: Summary | None = None) -> bool:
    """A status change the system makes, audited; False when an editor or a proposal moved the
    question first (nothing written)."""
    from_status = question.status
    changes = {"summary": summary} if status == Status.OPEN and summary is not None else {}
    try:
        question.transition_to(status, **changes)
    except StaleQuestion:
        return False
    if status != Status.OPEN:
        QuestionTerm.objects.filter(question=question).delete()
    AuditEntry.record(
        action,
        automatic=True,
        target=question,
        from_status=from_status,
        to_status=status,
        story=question.story_id,
        question=question.text[:300],
        version=summary.version if summary is not None else None,
    )
    return True


def _index(questions: Iterable[OpenQuestion]) -> None:
    """Index the questions by their terms (replacing rows they may have)."""
    questions = list(questions)
    QuestionTerm.objects.filter(question__in=[q.pk for q in questions]).delete()
    QuestionTerm.objects.bulk_create(
        [QuestionTerm(question=q, term=term) for q in questions for term in sorted(question_terms(q.text))],
        batch_size=1000,
    )


# --- Proposing answers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    question_id: int
    story_id: int
    score: float


def answer_score(
    question: str, title: str, lead: str, *, documents: int, frequencies: dict[str, int]
) -> tuple[float, int]:
    """How well a report (title and lead) matches a question: the cosine of their TF-IDF
    vectors (grouping's weighting), and how many terms they share."""
    report_vector = tfidf(term_counts(title, lead), documents, frequencies)
    return _match(term_counts(question, ""), report_vector, documents, frequencies)


def _match(
    question_counts: Counter[str],
    report_vector: dict[str, float],
    documents: int,
    frequencies: dict[str, int],
) -> tuple[float, int]:
    shared = question_counts.keys() & report_vector.keys()
    if not shared:
        return 0.0, 0
    question_vector = tfidf(question_counts, documents, frequencies)
    return math.fsum(question_vector[t] * report_vector[t] for t in shared), len(shared)


def answers_propose(*, article: Article) -> list[Proposal]:
    """Propose `article` as the answer to the open questions it matches best (see the module
    docstring); returns the proposals made. Idempotent: a question already proposed is not
    open any more, and a question whose proposal of this article an editor rejected is
    skipped. A copy, or an article without a story, proposes nothing.

    Candidates are found by the article's LOOKUP_TERMS heaviest terms (its rarest words: a
    common word's index rows are many and tell little) and must share LOOKUP_SHARED of them;
    the CANDIDATES sharing most are scored on all their terms. Queries: the article, the
    document frequencies of its terms, the term index, and when it finds candidates the open
    questions among them, the rejections and the frequencies of their terms; then four writes
    per proposal."""
    article = (
        Article.objects.filter(pk=article.pk)
        .only(
            "pk",
            "title",
            "grouping_lead",
            "extracted_text",
            "feed_summary",
            "published_at",
            "story_id",
            "duplicate_of_id",
        )
        .first()
    )
    if article is None or article.story_id is None or article.duplicate_of_id is not None:
        return []
    # The lead it was grouped by (without its site's repeated text), as the document
    # frequencies count it; the start of its text for one grouped before leads were kept.
    lead = article.grouping_lead or article.extracted_text or article.feed_summary
    report_counts = term_counts(article.title, lead)
    if len(report_counts) < MIN_SHARED_TERMS:
        return []
    store = DatabaseStore()
    documents, frequencies = store.frequencies(report_counts)
    report_vector = tfidf(report_counts, documents, frequencies)
    lookup = sorted(report_vector, key=lambda term: (-report_vector[term], term))[:LOOKUP_TERMS]
    since = article.published_at - timedelta(days=settings.STORY_FOLLOWUP_DAYS)
    # Read from the term index alone, then the questions by primary key and filtered here:
    # with the filters in SQL, planners walk every open question (SQLite always, PostgreSQL
    # on stale statistics) instead of the few rows these terms index. The index holds little
    # besides open questions of recent stories (question_index_prune), so a short list beyond
    # CANDIDATES leaves room for the ones the filter drops.
    sharing = list(
        QuestionTerm.objects.filter(term__in=lookup)
        .values("question_id")
        .annotate(shared=Count("pk"))
        .filter(shared__gte=LOOKUP_SHARED)
        .order_by("-shared", "-question_id")
        .values_list("question_id", flat=True)[: 2 * CANDIDATES]
    )
    if not sharing:
        return []
    rank = {pk: n for n, pk in enumerate(sharing)}
    rows = OpenQuestion.objects.filter(pk__in=sharing).select_related("story")
    questions = sorted(
        (
            question
            for question in rows.only(
                "pk", "text", "status", "created_at", "story__last_seen_at", "story__merged_into_id"
            )
            if question.status == Status.OPEN
            and question.created_at < article.published_at
            and question.story.last_seen_at >= since
            and question.story.merged_into_id is None
        ),
        key=lambda question: rank[question.pk],
    )[:CANDIDATES]
    if not questions:
        return []
    candidates = [question.pk for question in questions]
    rejected = set(
        AuditEntry.objects.filter(
            action="question_reject",
            article=article,
            target_type=OpenQuestion._meta.label_lower,
            target_id__in=[str(pk) for pk in candidates],
        ).values_list("target_id", flat=True)
    )
    question_counts = {question.pk: term_counts(question.text, "") for question in questions}
    unknown = set().union(*question_counts.values()) - report_counts.keys()
    if unknown:
        frequencies = {**frequencies, **store.frequencies(unknown)[1]}
    scored = []
    for question in questions:
        if str(question.pk) in rejected:
            continue
        score, shared = _match(question_counts[question.pk], report_vector, documents, frequencies)
        if shared >= MIN_SHARED_TERMS and score >= settings.STORY_FOLLOWUP_THRESHOLD:
            scored.append((round(score, 4), question))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].pk))
    proposals = []
    for score, question in scored[:PROPOSALS_PER_ARTICLE]:
        if _propose(question, article=article, score=score):
            proposals.append(Proposal(question_id=question.pk, story_id=question.story_id, score=score))
    return proposals


def _propose(question: OpenQuestion, *, article: Article, score: float) -> bool:
    with transaction.atomic():
        try:
            question.transition_to(
                Status.PROPOSED,
                answer_article_id=article.pk,
                answer_story_id=article.story_id,
                answer_score=score,
            )
        except StaleQuestion:
            return False  # an editor dismissed it, or another report was proposed, meanwhile
        AuditEntry.record(
            "question_propose",
            automatic=True,
            article=article,
            target=question,
            from_status=Status.OPEN,
            to_status=Status.PROPOSED,
            story=question.story_id,
            to_story=article.story_id,
            question=question.text[:300],
            score=score,
        )
    return True


def question_index_prune(*, now: datetime | None = None) -> int:
    """Delete the index rows no proposal can use: those of questions whose story was last seen
    more than STORY_FOLLOWUP_DAYS ago (a story that old takes no new articles: grouping's
    window is hours), and of questions that are answered or closed. Returns rows deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.STORY_FOLLOWUP_DAYS)
    stale = QuestionTerm.objects.filter(question__story__last_seen_at__lt=cutoff)
    closed = QuestionTerm.objects.filter(question__status__in=[Status.ACCEPTED, Status.DISMISSED])
    deleted, _ = stale.delete()
    more, _ = closed.delete()
    return deleted + more
