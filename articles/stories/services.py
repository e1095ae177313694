"""Grouping articles into stories in production, through the code path cluster_eval measures:
grouping.place_article on the database (store.DatabaseStore).

Rules:
- Every article past `new` belongs to exactly one story. Grouping runs right after
  extraction (the extract task calls it), before summarising. An article whose extraction
  failed is grouped too, from its title and the text it has (the thin page or the feed's
  summary), so that a retry or an editor finds it in a story like any other.
- A copy (near-identical text at another URL) joins its original's story with duplicate_of
  set, stays `extracted` and is never summarised. An exact duplicate that extraction already
  marked (same text hash, or rel=canonical naming a known article) joins its original's
  story the same way. Only an article not yet summarised (`extracted` or `failed`) may
  become a copy: a copy has no page of its own, and one that has a summary may be live.
- Deterministic and safe under concurrency: each placement runs in one transaction holding
  one PostgreSQL advisory lock (stories_lock), so placements happen one at a time across
  every worker on every host, each seeing all earlier ones. Two articles about the same
  event extracted at the same moment end in one story, not two. Placing one article is a
  dozen indexed queries and no network wait, so the lock costs ingestion little
  (bench/stories.py measures the rate).
- With an embeddings backend (STORY_EMBEDDINGS_URL), the article's sentence vector is
  fetched before the lock is taken (article_embedding) and handed to the placement; the
  network is never waited on while the lock is held. When the endpoint fails, the article is
  placed by TF-IDF alone (a warning is logged) and the endpoint is left alone for a minute,
  so an outage never slows extraction by more than one timeout a minute.
- Automatic grouping never moves an article an editor placed (`story_locked`) and never
  merges or dissolves a story an editor shaped (`editor_locked`). The editors' decisions
  (articles/desk/stories.py) take the grouping lock before their row locks, so the two
  queue up in one order, and rebuild the index of every story whose articles they changed
  (story_reindex), so that new reports follow the stories as the editor shaped them.
"""

from __future__ import annotations

import logging
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from articles.models import (
    Article,
    AuditEntry,
    CopyBand,
    EmbeddingCount,
    RecentTerm,
    SourceSentence,
    Story,
    StoryTerm,
    TermCount,
    story_changed,
)

from . import embeddings
from . import fingerprint as fp
from .grouping import ArticleInput, Grouped, Placement, grouping_lead, place_article
from .similarity import term_counts
from .store import DOCUMENTS, DatabaseStore, rebuild_index, with_leads

logger = logging.getLogger(__name__)

# Key of the transaction-scoped PostgreSQL advisory lock that serialises grouping across the
# cluster ("stories" as a number). The desk's story decisions take it too, before their row
# locks (articles/desk/stories.py), so a placement never interleaves with an editor's change.
GROUPING_LOCK = int.from_bytes(b"stories", "big")
# After the embeddings endpoint fails, articles are placed without asking it for this long.
EMBEDDINGS_PAUSE_SECONDS = 60
_EMBEDDINGS_PAUSED = "stories:embeddings-paused"
# Articles that may still become a copy: none of them has a summary of its own yet.
MAY_BE_COPY = (Article.Status.EXTRACTED, Article.Status.FAILED)
# What grouping reads of an article.
_FIELDS = (
    "pk",
    "status",
    "title",
    "extracted_text",
    "feed_summary",
    "published_at",
    "source_id",
    "story_id",
    "story_locked",
    "duplicate_of_id",
    "embedding",
)


def stories_lock() -> None:
    """Hold the grouping lock until the current transaction ends (commit or rollback).

    PostgreSQL: pg_advisory_xact_lock, one cluster-wide key. SQLite needs nothing: its
    transactions start IMMEDIATE (settings), so writers are serialised already."""
    if not connection.in_atomic_block:
        raise RuntimeError("stories_lock() needs a transaction: the lock lasts until it ends.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GROUPING_LOCK])


@dataclass(frozen=True)
class GroupOutcome:
    """Where article_group left an article: its story, whether it started it, the article it
    copies (None for an original), the similarity that decided (1.0 for a copy), and whether
    this call placed it (False: it already had a story and nothing changed)."""

    article_id: int
    story_id: int
    created: bool
    copy_of: int | None
    score: float
    placed: bool
    status: str

    @property
    def is_copy(self) -> bool:
        return self.copy_of is not None

    def as_dict(self) -> dict:
        return asdict(self)


def article_input(article: Article, embedding: embeddings.Vector | None = None) -> ArticleInput:
    """What grouping sees of an article: its title, its text (the extracted text, else the
    feed's summary), its publication time, its source and its sentence vector (`embedding`,
    else the one stored on it, if any)."""
    if embedding is None and article.embedding is not None:
        embedding = embeddings.unpack(article.embedding)
    return ArticleInput(
        key=article.pk,
        title=article.title,
        text=article.extracted_text or article.feed_summary,
        published=article.published_at,
        source=article.source_id,
        embedding=embedding,
    )


def articles_embed(articles: list[Article]) -> dict[int, embeddings.Vector]:
    """Sentence vectors for the articles that have none stored, from the configured endpoint,
    STORY_EMBEDDINGS_BATCH_SIZE texts a request: {article pk: vector}. Empty when the backend
    is off or paused. Call it outside any transaction that holds the grouping lock: it waits
    on the network. An endpoint failure is logged and pauses the backend for
    EMBEDDINGS_PAUSE_SECONDS; those articles are then grouped by TF-IDF alone.

    Each text is the title and the lead grouping reads (grouping.grouping_lead: without the
    source's repeated sentences known now), so a site's cookie banner does not make two of
    its articles embed alike either."""
    if not settings.STORY_EMBEDDINGS_URL:
        return {}
    wanted = [a for a in articles if a.embedding is None]
    if not wanted or cache.get(_EMBEDDINGS_PAUSED):
        return {}
    store, window = DatabaseStore(), timedelta(hours=settings.STORY_WINDOW_HOURS)
    texts = [
        embeddings.embedding_text(a.title, grouping_lead(article_input(a), store, window)[0]) for a in wanted
    ]
    with embeddings.client_from_settings() as client:
        vectors = client.embed_all(texts)
    if None in vectors:
        cache.set(_EMBEDDINGS_PAUSED, 1, timeout=EMBEDDINGS_PAUSE_SECONDS)
    return {a.pk: vector for a, vector in zip(wanted, vectors, strict=True) if vector is not None}


def article_group(*, article: Article) -> GroupOutcome:
    """Place an article past `new` into a story: as a copy of a recent original, into the
    best-matching recent story, or into a story of its own (see the module docstring).

    Idempotent: an article that already has a story is left alone and its placement is
    returned with placed=False. Sends story_changed (receivers defer to commit). Raises
    ValueError for an article still `new`: it has no text to group by yet.

    With an embeddings backend, the article's vector is fetched first, before the grouping
    lock is taken (articles_embed): the lock is never held across a network call."""
    vector = None
    if article.story_id is None and article.duplicate_of_id is None and article.status != Article.Status.NEW:
        vector = articles_embed([article]).get(article.pk)
    with transaction.atomic():
        stories_lock()
        current = Article.objects.only(*_FIELDS).get(pk=article.pk)
        if current.story_id is not None:
            return GroupOutcome(
                article_id=current.pk,
                story_id=current.story_id,
                created=False,
                copy_of=current.duplicate_of_id,
                score=0.0,
                placed=False,
                status=current.status,
            )
        if current.status == Article.Status.NEW:
            raise ValueError(f"Article {current.pk} is not extracted yet: nothing to group it by.")
        store = DatabaseStore(find_copies=current.status in MAY_BE_COPY)
        placement = _place(current, store, vector)
        for gone in placement.merged:
            # Shaped like an editor's merge (desk/stories.py), so the desk's story history shows
            # it: the stories and the articles that moved (those the merged story held before
            # this report; the report itself is the entry's article).
            AuditEntry.record(
                "story_merge",
                automatic=True,
                article=current,
                target=Story(pk=placement.story),
                reason="Grouping: this report fits both stories, which report the same event.",
                from_story=gone,
                to_story=placement.story,
                articles=[pk for pk in store.moved.get(gone, []) if pk != current.pk],
            )
        story_changed.send(sender=Story, story_ids=[placement.story, *placement.merged])
    return GroupOutcome(
        article_id=current.pk,
        story_id=placement.story,
        created=placement.created,
        copy_of=placement.copy_of,
        score=placement.score,
        placed=True,
        status=current.status,
    )


def _place(article: Article, store: DatabaseStore, embedding: embeddings.Vector | None = None) -> Placement:
    """One placement under the lock. An article extraction already marked as a duplicate
    joins its original's story as a copy; any other goes through place_article, with its
    sentence vector when it has one (`embedding`, fetched before the lock, or stored)."""
    data = article_input(article, embedding)
    if article.duplicate_of_id is not None:
        original_story = (
            Article.objects.filter(pk=article.duplicate_of_id).values_list("story_id", flat=True).first()
        )
        if original_story is not None:
            placement = Placement(
                story=original_story, created=False, copy_of=article.duplicate_of_id, score=1.0
            )
            signature = fp.fingerprint(data.text)
            grouped = Grouped(vector={}, profile={}, index_terms=[], terms=[], fingerprint=signature)
            store.place(data, placement, grouped)
            return placement
        # Its original has no story yet (still `new`): group it by its own text meanwhile.
    threshold, weight = embeddings.scoring()
    return place_article(
        data,
        store,
        window=timedelta(hours=settings.STORY_WINDOW_HOURS),
        threshold=threshold,
        embedding_weight=weight,
    )


def story_reindex(*, story: Story) -> dict[str, float]:
    """Rebuild the story's grouping profile and index terms from the articles it holds now
    (store.rebuild_index), and return the profile. For a story whose articles an editor
    changed: a story split out is found by new reports of its event, a story merged into is
    found by those of the merged one's, and a story that lost an article is no longer found
    by that article's words.

    Runs under the grouping lock, in the caller's transaction when there is one (the desk's
    decisions call it after Story.recount, so the index is seen until the story's latest
    article). Idempotent. Sends no signal: it changes nothing readers see."""
    with transaction.atomic():
        stories_lock()
        return rebuild_index(story.pk)


def articles_ungrouped(*, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Articles past `new` without a story long after their last status change: the worker
    that extracted them died before grouping them. Grouping them again is harmless
    (article_group leaves a grouped article alone). Oldest first."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stranded = Article.objects.filter(story__isnull=True, status_changed_at__lt=cutoff).exclude(
        status=Article.Status.NEW
    )
    return list(stranded.order_by("status_changed_at").values_list("pk", flat=True)[:limit])


def story_index_prune(*, older_than: timedelta) -> dict[str, int]:
    """Delete grouping index rows no placement can use any more: the index terms of stories
    last seen, and the copy bands, recent terms and sentence keys of articles published,
    before now - `older_than`. An article is only compared with stories seen within the
    window before its publication, so with `older_than` above the window only articles
    arriving that late with an old date lose a match (they start a story of their own).
    Returns the rows deleted per table."""
    cutoff = timezone.now() - max(older_than, timedelta(hours=settings.STORY_WINDOW_HOURS))
    terms, _ = StoryTerm.objects.filter(last_seen_at__lt=cutoff).delete()
    bands, _ = CopyBand.objects.filter(published_at__lt=cutoff).delete()
    recent, _ = RecentTerm.objects.filter(published_at__lt=cutoff).delete()
    sentences, _ = SourceSentence.objects.filter(published_at__lt=cutoff).delete()
    return {"story_terms": terms, "copy_bands": bands, "recent_terms": recent, "source_sentences": sentences}


# --- Re-grouping existing articles --------------------------------------------------------


@dataclass
class RegroupOutcome:
    articles: int = 0  # re-placed
    moved: int = 0  # of which now in another story than before
    copies: int = 0  # of which copies
    stories: int = 0  # stories the re-placed articles form
    removed: int = 0  # stories left empty and deleted
    pinned: int = 0  # articles left where editors put them
    documents: int = 0  # articles the document frequencies were rebuilt from


class _RegroupStore(DatabaseStore):
    """The database store during stories_regroup: a new story reuses the story the article
    was in, when that story is being rebuilt and not yet taken, so a re-run keeps story
    rows and their URLs."""

    def __init__(self, *, reusable: set[int], taken: set[int], previous: int | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reusable, self.taken, self.previous = reusable, taken, previous

    def new_story(self, article: ArticleInput, grouped: Grouped) -> Story:
        if self.previous in self.reusable and self.previous not in self.taken:
            self.taken.add(self.previous)
            Story.objects.filter(pk=self.previous).update(
                profile=grouped.profile, member_vectors=grouped.members, embedding=grouped.story_embedding
            )
            return Story.objects.only("pk", "lead_id", "editor_locked").get(pk=self.previous)
        story = super().new_story(article, grouped)
        self.taken.add(story.pk)
        return story


def stories_regroup(
    *, since: datetime | None = None, batch_size: int = 200, progress: Callable[[str], None] | None = None
) -> RegroupOutcome:
    """Group existing articles again, in publication order, through the production code path:
    the migration's one-article stories are clustered, and stories follow a new threshold.

    Articles published since `since` (all without it) are re-placed, except those an editor
    placed (`story_locked`) and every article of a story an editor shaped (`editor_locked`)
    or holding such an article: those stories are neither dissolved nor offered to the
    re-placed articles, so a split-out article is never merged back. Copies stay copies of
    their original and follow it; an article with a summary never becomes a copy.

    Steps: (1) in one transaction under the grouping lock, the stories made only of
    re-placed articles are cleared of their index and profile, the re-placed originals'
    copy bands, recent terms and sentence keys are deleted (recorded again as each is
    re-placed, in order) and the document frequencies are rebuilt from every other grouped
    original; (2) the articles are re-placed in batches of `batch_size`, each batch one
    transaction under the lock, so extraction workers wait at most one batch and no article
    is ever without a story; (3) stories left empty are deleted. Idempotent: a second run
    re-places every article into the same story row (moved = 0, removed = 0)."""
    say = progress or (lambda message: None)
    outcome = RegroupOutcome()
    with transaction.atomic():
        stories_lock()
        plan = _regroup_plan(since)
        outcome.pinned = plan.pinned
        say(
            f"{len(plan.sequence)} articles to re-place, {plan.pinned} left where editors put them, "
            f"{len(plan.rebuilt)} stories to rebuild."
        )
        for chunk in _chunks(sorted(plan.rebuilt), 500):
            StoryTerm.objects.filter(story_id__in=chunk).delete()
            Story.objects.filter(pk__in=chunk).update(
                profile={}, member_vectors=[], embedding=None, hub_scores=[]
            )
        originals = [pk for pk in plan.sequence if plan.copy_of[pk] is None]
        for chunk in _chunks(originals, 500):
            CopyBand.objects.filter(article_id__in=chunk).delete()
            RecentTerm.objects.filter(article_id__in=chunk).delete()
            SourceSentence.objects.filter(article_id__in=chunk).delete()
        outcome.documents = _rebuild_document_frequencies(exclude=set(plan.sequence))
        say(f"Document frequencies rebuilt from the {outcome.documents} grouped articles kept in place.")

    taken: set[int] = set()
    final: set[int] = set()
    for number, chunk in enumerate(_chunks(plan.sequence, batch_size), start=1):
        changed: set[int] = set()
        # Vectors for articles that have none yet, fetched before the lock is taken.
        vectors = {}
        if settings.STORY_EMBEDDINGS_URL:
            vectors = articles_embed(list(Article.objects.only(*_FIELDS).filter(pk__in=chunk)))
        with transaction.atomic():
            stories_lock()
            rows = {a.pk: a for a in Article.objects.only(*_FIELDS).filter(pk__in=chunk)}
            for pk in chunk:
                article = rows.get(pk)
                if article is None or article.story_locked or article.story_id in plan.pinned_stories:
                    continue  # deleted, or an editor placed it since the plan was made
                store = _RegroupStore(
                    reusable=plan.rebuilt,
                    taken=taken,
                    previous=article.story_id,
                    find_copies=article.status in MAY_BE_COPY,
                    exclude_stories=plan.pinned_stories,
                )
                placement = _place(article, store, vectors.get(pk))
                outcome.articles += 1
                outcome.copies += placement.copy_of is not None
                final.add(placement.story)
                final.difference_update(placement.merged)
                changed.update(placement.merged)
                if placement.story != plan.story_before[pk]:
                    outcome.moved += 1
                if placement.story != article.story_id:
                    changed.add(placement.story)
                    if article.story_id is not None:
                        changed.add(article.story_id)
                        _recount(article.story_id)
            if changed:
                story_changed.send(sender=Story, story_ids=sorted(changed))
        say(f"Batch {number}: {outcome.articles} articles re-placed, {outcome.moved} moved.")

    for chunk in _chunks(sorted(plan.rebuilt - final), 500):
        with transaction.atomic():
            stories_lock()
            empty = Story.objects.filter(pk__in=chunk, article_count=0, editor_locked=False)
            empty = empty.exclude(pk__in=Article.objects.filter(story_id__in=chunk).values("story_id"))
            outcome.removed += empty.delete()[1].get(Story._meta.label, 0)
    outcome.stories = len(final)
    return outcome


def _recount(story_id: int) -> None:
    Story.objects.only("pk", "lead_id", "editor_locked").get(pk=story_id).recount()


@dataclass
class _Plan:
    sequence: list[int]  # articles to re-place, in the order they are placed
    copy_of: dict[int, int | None]
    story_before: dict[int, int | None]
    rebuilt: set[int]  # stories made only of re-placed articles: index cleared, may be reused
    pinned_stories: set[int]
    pinned: int


def _regroup_plan(since: datetime | None) -> _Plan:
    pinned_stories = set(
        Story.objects.filter(Q(editor_locked=True) | Q(articles__story_locked=True))
        .values_list("pk", flat=True)
        .distinct()
    )
    members: dict[int, set[int]] = defaultdict(set)
    in_scope: list[tuple] = []
    grouped = Article.objects.exclude(status=Article.Status.NEW).order_by("published_at", "pk")
    for pk, story, copy_of, locked, published in grouped.values_list(
        "pk", "story_id", "duplicate_of_id", "story_locked", "published_at"
    ).iterator(chunk_size=2000):
        if story is not None:
            members[story].add(pk)
        if since is None or published >= since:
            in_scope.append((pk, story, copy_of, locked))

    pinned = 0
    originals: set[int] = set()
    for pk, story, copy_of, locked in in_scope:
        if locked or story in pinned_stories:
            pinned += 1
        elif copy_of is None:
            originals.add(pk)
    moving = []
    for pk, story, copy_of, locked in in_scope:
        if locked or story in pinned_stories:
            continue
        # A copy moves with its original; a copy of an article that stays put stays too,
        # unless it has no story at all.
        if copy_of is None or copy_of in originals or story is None:
            moving.append((pk, story, copy_of))

    position = {pk: i for i, (pk, _, _) in enumerate(moving)}

    def order(item: tuple) -> tuple[int, int, int]:
        pk, _, copy_of = item
        # A copy dated before its original is placed right after it, where it can join it.
        if copy_of in position and position[copy_of] > position[pk]:
            return (position[copy_of], 1, position[pk])
        return (position[pk], 0, 0)

    moving.sort(key=order)
    moving_ids = {pk for pk, _, _ in moving}
    rebuilt = {
        story
        for _, story, _ in moving
        if story is not None and story not in pinned_stories and members[story] <= moving_ids
    }
    return _Plan(
        sequence=[pk for pk, _, _ in moving],
        copy_of={pk: copy_of for pk, _, copy_of in moving},
        story_before={pk: story for pk, story, _ in moving},
        rebuilt=rebuilt,
        pinned_stories=pinned_stories,
        pinned=pinned,
    )


def _rebuild_document_frequencies(*, exclude: set[int]) -> int:
    """TermCount and EmbeddingCount from scratch: every grouped original except `exclude`
    (which will be counted again as they are re-placed). Reads only the title and the lead
    each article was grouped by (store.with_leads), and its stored sentence vector."""
    counts: dict[str, int] = defaultdict(int)
    totals: dict[int, tuple[int, list[float]]] = {}
    documents = 0
    grouped = Article.objects.filter(story__isnull=False, duplicate_of__isnull=True)
    originals = with_leads(grouped.exclude(status=Article.Status.NEW)).values_list(
        "pk", "title", "lead", "embedding"
    )
    for pk, title, lead, embedding in originals.iterator(chunk_size=2000):
        if pk in exclude:
            continue
        documents += 1
        for term in term_counts(title, lead):
            counts[term] += 1
        if embedding is not None:
            vector = embeddings.unpack(embedding)
            articles, total = totals.get(len(vector), (0, [0.0] * len(vector)))
            totals[len(vector)] = (articles + 1, [t + v for t, v in zip(total, vector, strict=True)])
    EmbeddingCount.objects.all().delete()
    EmbeddingCount.objects.bulk_create(
        EmbeddingCount(dimensions=dimensions, articles=articles, total=array("d", total).tobytes())
        for dimensions, (articles, total) in totals.items()
    )
    TermCount.objects.all().delete()
    TermCount.objects.bulk_create(
        [TermCount(term=DOCUMENTS, documents=documents)]
        + [TermCount(term=term, documents=n) for term, n in counts.items()],
        batch_size=1000,
    )
    return documents


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
