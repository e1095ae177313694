"""The StoryStore of production: stories, their index terms, copy bands and document
frequencies kept in tables, so that articles/stories/services.py makes the decisions that
cluster_eval makes with grouping.MemoryStore, from the same stream, exactly.

Every read is an indexed lookup bounded by the window (StoryTerm by term and last_seen_at,
CopyBand by key and published_at, SourceSentence by source, key and published_at) or by the
article's own terms (TermCount by primary key, RecentTerm by term and published_at),
so placing one article costs the same dozen queries however large the archive grows.

The caller holds the grouping lock (services.stories_lock) for the whole placement, so one
placement never reads another's half-written state. The term writes are safe without it too:
document frequencies are counted by one upsert, never read-modify-write. The embedding total
(EmbeddingCount) is read and written back, which only the lock makes safe.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce, NullIf, Substr

from articles.models import (
    Article,
    CopyBand,
    EmbeddingCount,
    RecentTerm,
    SourceSentence,
    Story,
    StoryTerm,
    TermCount,
)

from .embeddings import pack, unpack
from .grouping import (
    LOOKUP_TERMS,
    MEMBERS,
    ArticleInput,
    CopyCandidate,
    EmbeddingTotal,
    Grouped,
    Placement,
    StoryCandidate,
    _profile,
    _top,
    member_vector,
    top_hub_scores,
)
from .similarity import LEAD_READ, term_counts, tfidf

# The TermCount row that counts the documents themselves (no real term is empty).
DOCUMENTS = ""


class DatabaseStore:
    """A StoryStore on the database (see grouping.StoryStore for the protocol).

    `find_copies=False` makes every article an original: an article that already has its
    own summary must not become a copy, which has no page. `exclude_stories` are never
    offered as candidates, neither for copies nor for the same event (stories_regroup keeps
    articles out of the stories editors shaped).
    """

    def __init__(self, *, find_copies: bool = True, exclude_stories: Iterable[int] = ()) -> None:
        self.find_copies = find_copies
        self.exclude_stories = frozenset(exclude_stories)
        # last_seen of the stories offered by recent_stories, for place() to extend.
        self._last_seen: dict[int, datetime | None] = {}
        # Stories merge() emptied: the articles each held, moved into the story kept (pk order),
        # for the audit entry of the merge.
        self.moved: dict[Hashable, list[int]] = {}

    def frequencies(
        self, terms: Iterable[str], leave_out: tuple[datetime, datetime] | None = None
    ) -> tuple[int, dict[str, int]]:
        """Document frequencies (TermCount); with `leave_out` (start, end), less the originals
        published from start until before end (RecentTerm), as grouping.MemoryStore counts."""
        wanted = [DOCUMENTS, *terms]
        rows = dict(TermCount.objects.filter(term__in=wanted).values_list("term", "documents"))
        if leave_out is not None:
            start, end = leave_out
            recent = (
                RecentTerm.objects.filter(term__in=wanted, published_at__gte=start, published_at__lt=end)
                .values("term")
                .annotate(n=Count("pk"))
                .values_list("term", "n")
            )
            for term, n in recent:
                rows[term] = rows.get(term, 0) - n
        documents = max(rows.pop(DOCUMENTS, 0), 0)
        return documents, {term: n for term, n in rows.items() if n > 0}

    def copy_candidates(self, bands: list[int], since: datetime | None) -> list[CopyCandidate]:
        """Originals (no duplicate_of) sharing a band, published since `since`, in placement
        order (article pk: articles are grouped as they are extracted, oldest first)."""
        if not self.find_copies or not bands:
            return []
        matching = CopyBand.objects.filter(key__in=bands)
        if since is not None:
            matching = matching.filter(published_at__gte=since)
        rows = (
            Article.objects.filter(
                pk__in=matching.values("article_id"), duplicate_of__isnull=True, story__isnull=False
            )
            .order_by("pk")
            .values_list("pk", "story_id", "fingerprint", "source_id", "title")
        )
        return [
            CopyCandidate(key=pk, story=story, fingerprint=bytes(fingerprint), source=source, title=title)
            for pk, story, fingerprint, source, title in rows
            if fingerprint and story not in self.exclude_stories
        ]

    def recent_stories(self, terms: list[str], since: datetime | None) -> list[StoryCandidate]:
        """Stories indexed by one of `terms` and seen since `since`, in story pk order. A story
        left without articles (an editor merged or emptied it) is no candidate."""
        if not terms:
            return []
        index = StoryTerm.objects.filter(term__in=terms)
        if since is not None:
            index = index.filter(last_seen_at__gte=since)
        # Every index row of a story carries the same last_seen_at (place() writes them together).
        seen = StoryTerm.objects.filter(story=OuterRef("pk")).values("last_seen_at")[:1]
        rows = (
            Story.objects.filter(pk__in=index.values("story_id"), article_count__gt=0)
            .annotate(seen=Subquery(seen))
            .order_by("pk")
            .values_list(
                "pk", "profile", "seen", "embedding", "member_vectors", "editor_locked", "hub_scores"
            )
        )
        found = []
        for pk, profile, last_seen, embedding, members, locked, hub in rows:
            if pk in self.exclude_stories:
                continue
            self._last_seen[pk] = last_seen
            found.append(
                StoryCandidate(
                    key=pk,
                    profile=ranked_profile(profile),
                    last_seen=last_seen,
                    embedding=bytes(embedding) if embedding is not None else None,
                    members=tuple(members or ()),
                    locked=locked,
                    hub=tuple(hub or ()),
                )
            )
        return found

    def repeated_sentences(self, source: Hashable, keys: list[int], since: datetime | None) -> set[int]:
        """Which of the sentence `keys` an original of `source` published since `since` had
        (SourceSentence), as grouping.MemoryStore answers."""
        if source is None or not keys:
            return set()
        rows = SourceSentence.objects.filter(source_id=source, key__in=keys)
        if since is not None:
            rows = rows.filter(published_at__gte=since)
        return set(rows.order_by().values_list("key", flat=True).distinct())

    def embedding_total(self, dimensions: int) -> EmbeddingTotal | None:
        row = EmbeddingCount.objects.filter(dimensions=dimensions).first()
        if row is None:
            return None
        return EmbeddingTotal(dimensions=row.dimensions, articles=row.articles, total=bytes(row.total))

    def place(self, article: ArticleInput, placement: Placement, grouped: Grouped) -> Hashable:
        """Write the placement: the story (created, or its profile and index replaced), the
        article's story, fingerprint, grouping_lead (None for a copy) and (for a copy)
        duplicate_of, with an UPDATE of those columns only; then the story's counts and lead
        (Story.recount). An original's terms are counted and its bands and sentence keys
        stored, and the hub scores of the other stories it was scored against (grouped.hub);
        a copy only extends its story's last_seen."""
        published = article.published
        if published is None:
            raise ValueError("An article in the database always has a publication time.")
        is_copy = placement.copy_of is not None
        if placement.created:
            story = self.new_story(article, grouped)
        else:
            story = Story.objects.only("pk", "lead_id", "editor_locked").get(pk=placement.story)

        columns: dict = {
            "story_id": story.pk,
            "fingerprint": grouped.fingerprint,
            "grouping_lead": None if is_copy else grouped.lead,
        }
        if is_copy:
            columns["duplicate_of_id"] = placement.copy_of
        if grouped.embedding is not None:
            columns["embedding"] = grouped.embedding
        Article.objects.filter(pk=article.key).update(**columns)

        if is_copy:
            # A copy is not an independent document (counted, its words would look common),
            # and it leaves the story's profile alone; it only keeps the story open longer.
            StoryTerm.objects.filter(story_id=story.pk, last_seen_at__lt=published).update(
                last_seen_at=published
            )
        else:
            last_seen = None if placement.created else self._last_seen.get(story.pk)
            if last_seen is None or published > last_seen:
                last_seen = published
            if not placement.created:
                changed: dict = {"profile": grouped.profile, "member_vectors": grouped.members}
                if grouped.story_embedding is not None:
                    changed["embedding"] = grouped.story_embedding
                Story.objects.filter(pk=story.pk).update(**changed)
            if grouped.embedding_total is not None:
                total = grouped.embedding_total
                EmbeddingCount.objects.update_or_create(
                    dimensions=total.dimensions, defaults={"articles": total.articles, "total": total.total}
                )
            self._last_seen[story.pk] = last_seen
            StoryTerm.objects.filter(story_id=story.pk).delete()
            StoryTerm.objects.bulk_create(
                StoryTerm(story_id=story.pk, term=term, last_seen_at=last_seen)
                for term in grouped.index_terms
            )
            if grouped.hub:
                Story.objects.bulk_update(
                    [Story(pk=pk, hub_scores=scores) for pk, scores in sorted(grouped.hub.items())],
                    ["hub_scores"],
                )
            count_terms(grouped.terms)
            RecentTerm.objects.bulk_create(
                RecentTerm(article_id=article.key, term=term, published_at=published)
                for term in [DOCUMENTS, *grouped.terms]
            )
            if grouped.fingerprint:
                CopyBand.objects.bulk_create(
                    CopyBand(article_id=article.key, key=key, published_at=published) for key in grouped.bands
                )
            if grouped.sentences and article.source is not None:
                SourceSentence.objects.bulk_create(
                    SourceSentence(
                        source_id=article.source, article_id=article.key, key=key, published_at=published
                    )
                    for key in grouped.sentences
                )
        story.recount()
        return story.pk

    def merge(
        self,
        keep: Hashable,
        gone: Hashable,
        profile: dict[str, float],
        members: list[dict[str, float]],
        embedding: bytes | None = None,
    ) -> None:
        """Consolidation (grouping._consolidate): story `gone`'s articles move into `keep`,
        which takes the merged profile, members and sentence vector sum (when there is one)
        and is indexed until the later of the two
        stories' last_seen; `gone` is left empty, without index, pointing to `keep`
        (merged_into, as an editor's merge leaves it: its URL redirects there). The articles
        moved are kept in `moved[gone]`."""
        seen = [self._last_seen[key] for key in (keep, gone) if self._last_seen.get(key) is not None]
        last_seen = max(seen) if seen else None
        self._last_seen[keep] = last_seen
        self.moved[gone] = list(
            Article.objects.filter(story_id=gone).order_by("pk").values_list("pk", flat=True)
        )
        Article.objects.filter(pk__in=self.moved[gone]).update(story_id=keep)
        hubs = Story.objects.filter(pk__in=[keep, gone]).values_list("hub_scores", flat=True)
        kept = {
            "profile": profile,
            "member_vectors": members,
            "hub_scores": top_hub_scores(score for hub in hubs for score in hub or ()),
        }
        if embedding is not None:
            kept["embedding"] = embedding
        Story.objects.filter(pk=keep).update(**kept)
        StoryTerm.objects.filter(story_id__in=[keep, gone]).delete()
        if last_seen is not None:
            StoryTerm.objects.bulk_create(
                StoryTerm(story_id=keep, term=term, last_seen_at=last_seen)
                for term in _top(profile, LOOKUP_TERMS)
            )
        Story.objects.filter(merged_into_id=gone).update(merged_into_id=keep)
        Story.objects.filter(pk=gone).update(
            merged_into_id=keep, lead=None, profile={}, member_vectors=[], embedding=None, hub_scores=[]
        )
        for pk in (keep, gone):
            Story.objects.only("pk", "lead_id", "editor_locked").get(pk=pk).recount()

    def new_story(self, article: ArticleInput, grouped: Grouped) -> Story:
        """The story an article starts (Story.recount then sets its title and lead)."""
        return Story.objects.create(
            title=article.title[:500] or "Untitled",
            first_seen_at=article.published,
            last_seen_at=article.published,
            profile=grouped.profile,
            member_vectors=grouped.members,
            embedding=grouped.story_embedding,
        )


def rebuild_index(story_id: int) -> dict[str, float]:
    """Replace a story's profile, member vectors and index terms with those its articles give
    it now, and return the profile: what place() would have stored had grouping placed
    exactly these articles, weighted by today's document frequencies.

    The originals (copies add nothing to a profile) are folded in placement order (pk) with
    grouping's own _profile, from the title and the lead each was grouped by (with_leads),
    and indexed by grouping's LOOKUP_TERMS heaviest terms, seen until the latest publication
    among all its articles, copies included (place() extends it for a copy too). A story without originals gets an empty profile and no index rows, so grouping
    offers it to no one. Its sentence vector is the sum of its originals' stored vectors
    (story_embedding). Document frequencies are only read: every original was counted when
    it was placed. The caller holds the grouping lock."""
    members = list(
        with_leads(Article.objects.filter(story_id=story_id))
        .order_by("pk")
        .values_list("title", "lead", "duplicate_of_id", "published_at", "embedding")
    )
    originals = [member for member in members if member[2] is None]
    counts = [term_counts(title, lead) for title, lead, *_ in originals]
    documents, frequencies = DatabaseStore().frequencies({term for terms in counts for term in terms})
    profile: dict[str, float] = {}
    vectors = [tfidf(terms, documents, frequencies) for terms in counts]
    for vector in vectors:
        profile = _profile(profile, vector)
    kept = [member_vector(vector) for vector in vectors[-MEMBERS:]]

    embedding = story_embedding([member[4] for member in originals])
    Story.objects.filter(pk=story_id).update(profile=profile, member_vectors=kept, embedding=embedding)
    StoryTerm.objects.filter(story_id=story_id).delete()
    if profile:
        last_seen = max(member[3] for member in members)
        StoryTerm.objects.bulk_create(
            StoryTerm(story_id=story_id, term=term, last_seen_at=last_seen)
            for term in _top(profile, LOOKUP_TERMS)
        )
    return profile


def with_leads(articles: QuerySet[Article]) -> QuerySet[Article]:
    """The articles annotated with `lead`, the lead each original was grouped by: the one
    place() stored (grouping_lead: its text's, less its source's repeated sentences), else,
    for an article grouped before leads were kept, the start of its extracted text, else of
    its feed's summary (similarity.term_counts cuts it as grouping does). Only the start of a
    text is read: an article's text may be long."""
    return articles.annotate(
        lead=Coalesce(
            "grouping_lead",
            NullIf(Substr("extracted_text", 1, LEAD_READ), Value("")),
            Substr("feed_summary", 1, LEAD_READ),
            output_field=TextField(),
        )
    )


def story_embedding(vectors: Iterable[bytes | memoryview | None]) -> bytes | None:
    """The vector sum a story keeps for grouping, from its originals' stored vectors in
    placement order, added as place() adds them (float32 after each article). Only vectors
    of the latest one's dimension count: after a change of model the older ones compare
    with nothing."""
    stored = [unpack(vector) for vector in vectors if vector is not None]
    if not stored:
        return None
    dimensions = len(stored[-1])
    total: tuple[float, ...] | None = None
    for vector in stored:
        if len(vector) != dimensions:
            continue
        total = vector if total is None else unpack(pack([t + v for t, v in zip(total, vector, strict=True)]))
    return pack(total) if total is not None else None


def ranked_profile(profile: Mapping[str, float]) -> dict[str, float]:
    """A stored profile in the order grouping built it (heaviest first, ties by term).

    PostgreSQL's jsonb keeps object keys in its own order; summing the weights in another
    order could change a score in its last bit. Rounded weights keep the order of the
    unrounded ones (rounding is monotonic, equal values may swap), so the sums are exact."""
    return dict(sorted(profile.items(), key=lambda item: (-item[1], item[0])))


def count_terms(terms: Iterable[str]) -> None:
    """One more document containing each of `terms`: one upsert that adds 1 to each row
    (the documents row included), inserting missing rows, on SQLite and PostgreSQL alike.
    Rows are taken in term order, so two concurrent upserts never deadlock."""
    rows = sorted({DOCUMENTS, *terms})
    table = connection.ops.quote_name(TermCount._meta.db_table)
    term = connection.ops.quote_name("term")
    documents = connection.ops.quote_name("documents")
    values = ", ".join(["(%s, 1)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({term}, {documents}) VALUES {values} "
            f"ON CONFLICT ({term}) DO UPDATE SET {documents} = {table}.{documents} + 1",
            rows,
        )
