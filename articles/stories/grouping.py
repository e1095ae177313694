"""Placing one article into a story: the same code path for production (store.DatabaseStore)
and for `cluster_eval` (MemoryStore).

1. Copies: an article whose fingerprint matches a recent article's (fingerprint.is_copy)
   joins that article's story as a copy of it (the original, never a copy of a copy).
2. Same event: otherwise the article's TF-IDF vector is compared with every recent story
   that shares one of its top terms (window: `window` before its publication time): with
   the story's latest members, its score is the mean of its NEAREST closest members'
   cosines (_member_score), lowered by how long the story has been quiet (_recency) and by
   how closely articles placed in other stories matched it (_hubness); the best story
   standing `threshold` above the background of the others takes it, else it starts a story.
   With an embeddings backend (embeddings.py) the article may carry a sentence vector, and
   the score mixes the TF-IDF cosine with the embedding cosine (see _embedding_scores).

The lead a vector is made of leaves out the sentences at the start of the text that the
article's source used in another original within the window (a cookie banner, navigation, a
feed's footer: boilerplate.py); the copy fingerprint reads the whole text.

Decisions depend only on the order articles arrive in and on what the store holds, never on
clocks or hash seeds: replaying the same stream gives the same stories. The store is asked
only for stories seen within the window that share a term, so the cost grows with the
number of recent stories, not with the archive.
"""

from __future__ import annotations

import heapq
import logging
import math
from array import array
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from . import boilerplate
from . import fingerprint as fp
from .embeddings import Vector, pack, unpack
from .similarity import term_counts, tfidf, title_terms

logger = logging.getLogger(__name__)

# Terms of an article used to look up candidate stories, and of a story kept in its index.
LOOKUP_TERMS = 10
# How many runner-up stories make the background that the best score must clear by the
# threshold: a story wins by standing out from the other recent stories, not by a raw cosine
# that rises and falls with how alike a day's news is.
BACKGROUND = 20
# An article joins a story only if a word of its title is among the terms that index the story
# (its LOOKUP_TERMS heaviest): text that every page of a site shares (navigation, cookie
# banners) cannot glue articles together alone.
TITLE_GATE = True
# Terms kept in a story's profile (the sum of its articles' vectors): bounds its size.
PROFILE_TERMS = 80
# A story also keeps the vectors of its latest MEMBERS originals, each cut to its
# MEMBER_TERMS heaviest terms, and an article scores against a story by the mean cosine of
# its NEAREST closest members (a story of NEAREST or fewer: its closest member's): a big story that has drifted over a day is still found by
# the reports it holds, where its summed profile would blur them; a small story scores by
# its members alone, not by a sum that grows more general (and more attractive) with
# every article it takes.
MEMBERS = 80
MEMBER_TERMS = 20
NEAREST = 2
# A story's score halves for every HALF_LIFE it has been quiet before the article's
# publication (time since its last_seen; no decay when either time is unknown): within the
# window a fresh story outranks a quiet one of the same words, as news about one event
# arrives in a burst (the time penalty of TDT's online detection, Yang et al. 1998). A day:
# the news cycle, not a figure fitted to a labelled file.
HALF_LIFE = timedelta(hours=24)
# Document frequencies leave out the articles published within IDF_LAG of the one being
# placed, before or after it (none for an article without a time): an event's own burst of
# reports must not make its words look common, so the name in its headlines keeps the weight of a
# rare word while the event is being reported (the words frequent in the last hours and rare
# before are the event's).
IDF_LAG = timedelta(hours=6)
# Consolidation: when an article could join several stories (each clears the threshold above
# the background and passes the title gate) and the story it joined, with it, has a profile
# this close (cosine) to another of them, the two are one story reported in fragments: the
# younger is merged into the older. Never a story an editor shaped.
MERGE_SIMILARITY = 0.4
# Embeddings: the mean of every embedded article is subtracted before comparing (sentence
# vectors of unrelated news are far from orthogonal); until this many articles have been
# embedded the mean is not known well enough and articles are placed by TF-IDF alone.
EMBEDDING_WARM_UP = 100
# With embeddings, a story whose index terms share no word of the article's title still
# passes the title gate when the two embed this close (centred cosine): a paraphrase.
EMBEDDING_GATE = 0.6
# Hubness: a story of one running issue's generic words is close to many articles and would
# take reports of other events one after another (roundups of an issue glued into one). Each
# story keeps the HUB_NEIGHBOURS highest scores (its members', before the recency decay) it
# received from articles that went to another story, among the HUB_RECORDED best candidates
# of each article; its score is lowered by HUB_PENALTY times their mean (missing ones count 0):
# the story side of CSLS (Conneau et al. 2018, "Word translation without parallel data"), the
# article side being the background. 0 turns it off.
HUB_PENALTY = 0.75
HUB_NEIGHBOURS = 10
HUB_RECORDED = BACKGROUND + 1


@dataclass(frozen=True)
class ArticleInput:
    key: Hashable
    title: str
    text: str
    published: datetime | None = None
    source: Hashable | None = None
    # Its sentence vector (unit length, float32 values: embeddings.unit), when embedded.
    embedding: Vector | None = None


@dataclass(frozen=True)
class StoryCandidate:
    key: Hashable
    profile: Mapping[str, float]
    last_seen: datetime | None
    # The sum of its originals' sentence vectors (embeddings.pack), when they were embedded.
    embedding: bytes | None = None
    # An editor shaped it (Story.editor_locked): grouping never merges it with another.
    locked: bool = False
    # The vectors of its latest MEMBERS originals, oldest first (member_vector); empty for
    # a story grouped before they were kept, which is scored by its profile.
    members: tuple[Mapping[str, float], ...] = ()
    # The HUB_NEIGHBOURS highest scores it received from articles placed elsewhere, highest
    # first (rounded to 5 decimals for storage).
    hub: tuple[float, ...] = ()


@dataclass(frozen=True)
class EmbeddingTotal:
    """The sum of the sentence vectors of every original embedded so far (float64 values),
    and how many: their mean is what all news has in common."""

    dimensions: int
    articles: int
    total: bytes


@dataclass(frozen=True)
class CopyCandidate:
    key: Hashable
    story: Hashable
    fingerprint: bytes
    source: Hashable | None
    title: str


@dataclass(frozen=True)
class Placement:
    """Where an article went: its story, whether it started it, which article it copies
    (None when it is an original) and the similarity that decided it (1.0 for a copy)."""

    story: Hashable
    created: bool
    copy_of: Hashable | None = None
    score: float = 0.0
    # Stories merged into `story` by consolidation once the article was in (now empty).
    merged: tuple[Hashable, ...] = ()


@dataclass
class Grouped:
    """What the store records for a placed article, beside the placement itself."""

    vector: dict[str, float]
    profile: dict[str, float]
    index_terms: list[str]
    terms: list[str]
    fingerprint: bytes | None
    bands: list[int] = field(default_factory=list)
    # The story's member vectors with the article's (an original), oldest first.
    members: list[dict[str, float]] = field(default_factory=list)
    # Embeddings (all None when the article has no usable vector): the article's vector and
    # its story's new vector sum to store (embeddings.pack), and the new running total.
    embedding: bytes | None = None
    story_embedding: bytes | None = None
    embedding_total: EmbeddingTotal | None = None
    # The lead the article's vector was made from (its text's, less its source's repeated
    # sentences), and the keys of the sentences at the start of its text (boilerplate.keys),
    # which the store records for the article's source.
    lead: str | None = None
    sentences: list[int] = field(default_factory=list)
    # The new hub scores (StoryCandidate.hub) of the candidate stories the article scored
    # among its HUB_RECORDED best and did not join, by story key.
    hub: dict[Hashable, list[float]] = field(default_factory=dict)


class StoryStore(Protocol):
    def frequencies(
        self, terms: Iterable[str], leave_out: tuple[datetime, datetime] | None = None
    ) -> tuple[int, dict[str, int]]:
        """Articles grouped so far, and how many of them contain each term; with `leave_out`
        (start, end), less those published from start until before end (an article without a
        time always counts)."""

    def copy_candidates(self, bands: list[int], since: datetime | None) -> list[CopyCandidate]:
        """Originals published since `since` sharing a band with the fingerprint."""

    def recent_stories(self, terms: list[str], since: datetime | None) -> list[StoryCandidate]:
        """Stories last seen since `since` indexed by one of `terms`."""

    def repeated_sentences(self, source: Hashable, keys: list[int], since: datetime | None) -> set[int]:
        """Which of the sentence `keys` an original of `source` published since `since` had at
        the start of its text (an original without a time always counts): the source's own
        repeated text."""

    def embedding_total(self, dimensions: int) -> EmbeddingTotal | None:
        """The running total of the originals embedded with `dimensions` dimensions, if any."""

    def merge(
        self,
        keep: Hashable,
        gone: Hashable,
        profile: dict[str, float],
        members: list[dict[str, float]],
        embedding: bytes | None = None,
    ) -> None:
        """Move every article of story `gone` into story `keep`, which takes `profile`,
        `members` and (when not None) the sentence vector sum `embedding`, is indexed by the
        profile's LOOKUP_TERMS heaviest terms, keeps the HUB_NEIGHBOURS highest hub scores of
        both (top_hub_scores) and is seen until the later of the two; `gone` is left empty and
        offered to no article again."""

    def place(self, article: ArticleInput, placement: Placement, grouped: Grouped) -> Hashable:
        """Record the article in its story (creating it when placement.created; then
        placement.story is None and the new story's key is returned), count its terms, store
        its bands, its sentence keys (when it has a source) and the story's new profile and
        index terms and the hub scores of the stories in grouped.hub; with grouped.embedding,
        the article's vector, its story's vector sum and the embedding total."""


def place_article(
    article: ArticleInput,
    store: StoryStore,
    *,
    window: timedelta,
    threshold: float,
    embedding_weight: float = 0.0,
) -> Placement:
    """Place `article` into a story through `store` and return where it went.

    `embedding_weight` > 0 mixes in the article's sentence vector (article.embedding), when
    it has one; with 0 or no vector the placement is by TF-IDF alone."""
    since = article.published - window if article.published else None
    # The fingerprint reads the whole text: a site's repost is still found as a copy.
    signature = fp.fingerprint(article.text)
    bands = fp.band_keys(signature) if signature else []
    lead, keys = grouping_lead(article, store, window)
    counts = term_counts(article.title, lead)
    burst = (article.published - IDF_LAG, article.published + IDF_LAG) if article.published else None
    documents, frequencies = store.frequencies(counts, leave_out=burst)
    # The article counts itself, as it will once placed.
    vector = tfidf(counts, documents + 1, {term: frequencies.get(term, 0) + 1 for term in counts})

    original = _original(article, signature, bands, since, store) if signature else None
    embedded: _Embedded | None = None
    members: list[dict[str, float]] = []
    rivals: list[StoryCandidate] = []
    joined: StoryCandidate | None = None
    hub: dict[Hashable, list[float]] = {}
    if original is not None:
        placement = Placement(story=original.story, created=False, copy_of=original.key, score=1.0)
        profile = None
    else:
        embedding = article.embedding if embedding_weight > 0 else None
        placement, profile, embedded, members, joined, rivals, hub = _best_story(
            vector,
            title_terms(article.title),
            since,
            store,
            threshold,
            embedding,
            embedding_weight,
            published=article.published,
        )
    grouped = Grouped(
        vector=vector,
        profile=profile if profile is not None else {},
        index_terms=_top(profile or vector, LOOKUP_TERMS),
        terms=sorted(counts),
        fingerprint=signature,
        bands=bands,
        members=members,
        lead=lead,
        sentences=keys,
        hub=hub,
    )
    if embedded is not None:
        grouped.embedding, grouped.story_embedding, grouped.embedding_total = embedded
    key = store.place(article, placement, grouped)
    if placement.created:
        placement = Placement(story=key, created=True, score=placement.score)
    elif rivals and profile is not None and joined is not None:
        # The joined story's vector sum, with the article's vector when it has one.
        story_sum = grouped.story_embedding if grouped.story_embedding is not None else joined.embedding
        placement = _consolidate(placement, profile, members, story_sum, rivals, store)
    return placement


def grouping_lead(article: ArticleInput, store: StoryStore, window: timedelta) -> tuple[str, list[int]]:
    """The lead the article is grouped (and embedded) by: its text's, less the sentences its
    source used in another original within the window (boilerplate.py); and the keys of the
    sentences at the start of its text, which the store records for the source."""
    if article.source is None:
        return boilerplate.lead_without(article.text, [], set()), []
    since = article.published - window if article.published else None
    sentences = boilerplate.sentences(article.title, article.text)
    keys = boilerplate.keys(sentences)
    repeated = store.repeated_sentences(article.source, keys, since) if keys else set()
    return boilerplate.lead_without(article.text, sentences, repeated), keys


def _consolidate(
    placement: Placement,
    profile: dict[str, float],
    members: list[dict[str, float]],
    embedding: bytes | None,
    rivals: list[StoryCandidate],
    store: StoryStore,
) -> Placement:
    """Merge the story the article joined (its new `profile`, `members` and sentence vector
    sum `embedding`) with each other story the article could have joined whose profile is
    MERGE_SIMILARITY close to it, in story key order; the older story (lower key) takes the
    younger's articles. Returns the placement in the story that holds the article at the end."""
    key = placement.story
    merged: list[Hashable] = []
    for rival in sorted(rivals, key=lambda c: c.key):
        if _similarity(profile, rival.profile) < MERGE_SIMILARITY:
            continue
        embedding = _summed(embedding, rival.embedding)
        if rival.key < key:
            keep, gone = rival.key, key
            profile = _profile(rival.profile, profile)
            members = [*rival.members, *members][-MEMBERS:]
        else:
            keep, gone = key, rival.key
            profile = _profile(profile, rival.profile)
            members = [*members, *rival.members][-MEMBERS:]
        store.merge(keep, gone, profile, members, embedding)
        merged.append(gone)
        key = keep
    if not merged:
        return placement
    return Placement(story=key, created=False, score=placement.score, merged=tuple(merged))


def _summed(story: bytes | None, other: bytes | None) -> bytes | None:
    """Two stories' sentence vector sums added (embeddings.pack); either alone when the other
    has none; the first (the joined story's) when their dimensions differ (a model change)."""
    if story is None or other is None:
        return story if story is not None else other
    mine, theirs = unpack(story), unpack(other)
    if len(mine) != len(theirs):
        return story
    return pack([a + b for a, b in zip(mine, theirs, strict=True)])


def _similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """The cosine of two profiles, summed as _dot sums (the same whatever their key order)."""
    norms = math.sqrt(_dot(a, a) * _dot(b, b))
    return _dot(a, b) / norms if norms else 0.0


def _original(
    article: ArticleInput, signature: bytes, bands: list[int], since: datetime | None, store: StoryStore
) -> CopyCandidate | None:
    """The earliest-placed recent original this article copies, if any. Within one source
    a copy must also carry the same title: pages of one site share navigation and notices,
    which must not make two of its articles copies of each other."""
    for candidate in store.copy_candidates(bands, since):
        if not fp.is_copy(signature, candidate.fingerprint):
            continue
        if candidate.source == article.source and title_terms(candidate.title) != title_terms(article.title):
            continue
        return candidate
    return None


# What an embedded placement stores: the article's vector, its story's new vector sum, the
# new running total (grouped.embedding, .story_embedding, .embedding_total).
_Embedded = tuple[bytes, bytes, EmbeddingTotal]


def _best_story(
    vector: Mapping[str, float],
    title: frozenset[str],
    since: datetime | None,
    store: StoryStore,
    threshold: float,
    embedding: Vector | None = None,
    weight: float = 0.0,
    published: datetime | None = None,
) -> tuple[
    Placement,
    dict[str, float],
    _Embedded | None,
    list[dict[str, float]],
    StoryCandidate | None,
    list[StoryCandidate],
    dict[Hashable, list[float]],
]:
    """Where the article goes: its placement, the story's new profile, what to store of its
    vector, the story's new members, the story it joins (None for a new one), the other
    stories it could have joined (for consolidation) and the new hub scores of the others."""
    candidates = store.recent_stories(_top(vector, LOOKUP_TERMS), since)
    recency = [_recency(published, c.last_seen) for c in candidates]
    matched = [_member_score(vector, c) for c in candidates]
    scores = [m * r - HUB_PENALTY * _hubness(c) for m, r, c in zip(matched, recency, candidates, strict=True)]
    member = member_vector(vector)
    total = store.embedding_total(len(embedding)) if embedding is not None else None
    close: list[float | None] = [None] * len(candidates)
    if embedding is not None:
        similarities = _embedding_scores(embedding, candidates, total)
        if similarities is None:
            embedding = None  # another dimension than the stories': TF-IDF alone, nothing kept
        elif total is not None and total.articles >= EMBEDDING_WARM_UP:
            close = similarities
            # The embedding similarity decays with the story's quiet time as the TF-IDF score does.
            scores = [
                t if e is None else (1 - weight) * t + weight * e * r
                for t, e, r in zip(scores, close, recency, strict=True)
            ]
    scored = sorted(zip(scores, close, candidates, strict=True), key=lambda item: -item[0])
    background = sum(score for score, _, _ in scored[1 : 1 + BACKGROUND]) / BACKGROUND if BACKGROUND else 0.0
    for score, similar, candidate in scored:
        if TITLE_GATE and not title.intersection(_top(candidate.profile, LOOKUP_TERMS)):
            if similar is None or similar < EMBEDDING_GATE:
                continue
        if score - background >= threshold:
            return (
                Placement(story=candidate.key, created=False, score=score),
                _profile(candidate.profile, vector),
                _embedded(embedding, candidate.embedding, total),
                [*candidate.members, member][-MEMBERS:],
                candidate,
                _rivals(candidate, scored, title, background, threshold),
                _hub_scores(candidates, matched, candidate.key),
            )
        break
    best_score = scored[0][0] if scored else 0.0
    return (
        Placement(story=None, created=True, score=best_score),
        _profile({}, vector),
        _embedded(embedding, None, total),
        [member],
        None,
        [],
        _hub_scores(candidates, matched, None),
    )


def _hubness(candidate: StoryCandidate) -> float:
    """How strongly articles placed elsewhere matched the story: the mean of its
    HUB_NEIGHBOURS highest scores from them (missing ones count 0)."""
    return sum(candidate.hub) / HUB_NEIGHBOURS if HUB_PENALTY and candidate.hub else 0.0


def _hub_scores(
    candidates: list[StoryCandidate], matched: list[float], joined: Hashable | None
) -> dict[Hashable, list[float]]:
    """The new hub scores of the article's HUB_RECORDED best candidates by member score (ties by
    story key) but the one it joined: each keeps its HUB_NEIGHBOURS highest, with this one."""
    if not HUB_PENALTY:
        return {}
    best = heapq.nsmallest(
        HUB_RECORDED, zip(matched, candidates, strict=True), key=lambda item: (-item[0], item[1].key)
    )
    updated = {}
    for score, candidate in best:
        if candidate.key != joined:
            updated[candidate.key] = top_hub_scores([*candidate.hub, round(score, 5)])
    return updated


def top_hub_scores(scores: Iterable[float]) -> list[float]:
    """The HUB_NEIGHBOURS highest of `scores`, highest first (a story's hub scores; a merged
    story keeps the highest of both)."""
    return sorted(scores, reverse=True)[:HUB_NEIGHBOURS]


def _rivals(
    chosen: StoryCandidate,
    scored: list[tuple[float, float | None, StoryCandidate]],
    title: frozenset[str],
    background: float,
    threshold: float,
) -> list[StoryCandidate]:
    """The other stories the article could have joined (above the background by the
    threshold, past the title gate), none of them shaped by an editor; none when the chosen
    one was."""
    if chosen.locked:
        return []
    return [
        candidate
        for score, _, candidate in scored
        if candidate.key != chosen.key
        and not candidate.locked
        and score - background >= threshold
        and title.intersection(_top(candidate.profile, LOOKUP_TERMS))
    ]


def _member_score(vector: Mapping[str, float], candidate: StoryCandidate) -> float:
    """The mean cosine of the article with the story's NEAREST closest members; with no more
    members than that, the closest one's (the mean of all of a small story's members would
    measure how alike they are, not how close the article is: a story an editor merged from
    reports in two languages takes a report in either). A story without member vectors
    scores by its profile."""
    if not candidate.members:
        return _cosine(vector, candidate.profile)
    similarities = [_dot(vector, member) for member in candidate.members]
    if len(similarities) <= NEAREST:
        return max(similarities)
    closest = sorted(similarities, reverse=True)[:NEAREST]
    return sum(closest) / NEAREST


def _recency(published: datetime | None, last_seen: datetime | None) -> float:
    """How much of its score a story keeps for an article published `published`: 0.5 for
    every HALF_LIFE between the story's last_seen and then; 1 when either is unknown or the
    story was seen after it (articles may arrive out of order)."""
    if published is None or last_seen is None or last_seen >= published:
        return 1.0
    return 0.5 ** ((published - last_seen) / HALF_LIFE)


def _dot(vector: Mapping[str, float], member: Mapping[str, float]) -> float:
    # Over the shared terms only, summed exactly rounded (fsum): the same sum whatever order
    # the two dicts hold their keys in (jsonb reorders them, set order follows the hash seed).
    common = vector.keys() & member.keys()
    if not common:
        return 0.0
    return math.fsum([vector[term] * member[term] for term in common])


def member_vector(vector: Mapping[str, float]) -> dict[str, float]:
    """What a story keeps of a member's unit vector: its MEMBER_TERMS heaviest terms, rounded
    for storage (not normalised again: a cosine with it counts the member's main terms)."""
    return {term: round(weight, 5) for term, weight in _ranked(vector)[:MEMBER_TERMS]}


def _embedding_scores(
    embedding: Vector, candidates: list[StoryCandidate], total: EmbeddingTotal | None
) -> list[float | None] | None:
    """Each candidate's embedding similarity to the article: the cosine of the two after
    subtracting the mean vector of every article embedded so far (what all news shares,
    so unrelated articles score about 0 as they do by TF-IDF). None for a story without
    vectors (grouped while the backend was off or failing): it is scored by TF-IDF alone.
    Returns None when a story's vectors have another dimension (the model changed)."""
    mean = [0.0] * len(embedding)
    if total is not None and total.articles:
        mean = [value / total.articles for value in _doubles(total.total)]
    article = [a - m for a, m in zip(embedding, mean, strict=True)]
    article_norm = math.sqrt(math.sumprod(article, article))
    # With ŝ the story's unit vector: (ŝ - m)·a = ŝ·a - m·a and |ŝ - m|² = 1 - 2 ŝ·m + m·m, so
    # each candidate costs three dot products in C instead of building its centred vector.
    article_mean = math.sumprod(article, mean)
    mean_square = math.sumprod(mean, mean)
    scores: list[float | None] = []
    for candidate in candidates:
        if candidate.embedding is None:
            scores.append(None)
            continue
        story = unpack(candidate.embedding)
        if len(story) != len(embedding):
            logger.warning(
                "Embedding has %d dimensions, story %s's have %d: placed by TF-IDF alone.",
                len(embedding),
                candidate.key,
                len(story),
            )
            return None
        norm = math.sqrt(math.sumprod(story, story))
        if not norm:
            scores.append(0.0)
            continue
        story_mean = math.sumprod(story, mean) / norm
        centred_norm = math.sqrt(max(0.0, 1 - 2 * story_mean + mean_square))
        denominator = article_norm * centred_norm
        dot = math.sumprod(story, article) / norm - article_mean
        scores.append(dot / denominator if denominator else 0.0)
    return scores


def _embedded(
    embedding: Vector | None, story: bytes | None, total: EmbeddingTotal | None
) -> _Embedded | None:
    """What to store for an article placed with `embedding`: its vector, its story's vector
    sum with it (float32), and the running total with it (float64)."""
    if embedding is None:
        return None
    story_sum = embedding if story is None else [s + a for s, a in zip(unpack(story), embedding, strict=True)]
    previous = _doubles(total.total) if total is not None else [0.0] * len(embedding)
    new_total = EmbeddingTotal(
        dimensions=len(embedding),
        articles=(total.articles if total is not None else 0) + 1,
        total=array("d", (t + a for t, a in zip(previous, embedding, strict=True))).tobytes(),
    )
    return pack(embedding), pack(story_sum), new_total


def _doubles(data: bytes) -> array:
    values = array("d")
    values.frombytes(data)
    return values


def _cosine(vector: Mapping[str, float], profile: Mapping[str, float]) -> float:
    """The cosine of a unit vector with a profile, summed as _dot sums."""
    norm = math.sqrt(_dot(profile, profile))
    return _dot(vector, profile) / norm if norm else 0.0


def _profile(profile: Mapping[str, float], vector: Mapping[str, float]) -> dict[str, float]:
    """The story's profile after adding the article: the sum of its articles' unit vectors,
    cut to its PROFILE_TERMS heaviest terms and rounded for storage."""
    total = Counter(dict(profile))
    total.update(vector)
    return {term: round(weight, 5) for term, weight in _ranked(total)[:PROFILE_TERMS]}


def _ranked(weights: Mapping[str, float]) -> list[tuple[str, float]]:
    # Ties broken by the term, so that the order never depends on insertion order.
    return sorted(weights.items(), key=lambda item: (-item[1], item[0]))


def _between(times: list[datetime], span: tuple[datetime, datetime]) -> int:
    """How many of the sorted `times` are from span's start until before its end."""
    return bisect_left(times, span[1]) - bisect_left(times, span[0])


def _top(weights: Mapping[str, float], n: int) -> list[str]:
    return [term for term, _ in _ranked(weights)[:n]]


class MemoryStore:
    """A StoryStore in memory, for cluster_eval and tests: the same decisions as the database
    store, without one."""

    def __init__(self) -> None:
        self.documents = 0
        self.frequency: Counter[str] = Counter()
        # Publication times of the counted originals that have one, in order, and per term.
        self.document_times: list[datetime] = []
        self.term_times: dict[str, list[datetime]] = {}
        self.stories: dict[int, dict] = {}
        # Each story as a candidate, built when first asked for and dropped when it changes.
        self._candidates: dict[int, StoryCandidate] = {}
        self.index: dict[str, set[int]] = {}
        self.bands: dict[int, list[CopyCandidate]] = {}
        self.published: dict[Hashable, datetime | None] = {}
        self.order: dict[Hashable, int] = {}
        self.embedding_totals: dict[int, EmbeddingTotal] = {}
        # Stories merged away by consolidation: where their articles went.
        self.merged_into: dict[Hashable, Hashable] = {}
        # (source, sentence key) of the originals: the latest publication time among those
        # that have one, and whether one without a time had it.
        self.sentence_seen: dict[tuple[Hashable, int], datetime] = {}
        self.sentence_undated: set[tuple[Hashable, int]] = set()

    def story_of(self, key: Hashable) -> Hashable:
        """Where story `key`'s articles are now (itself unless it was merged away)."""
        while key in self.merged_into:
            key = self.merged_into[key]
        return key

    def frequencies(
        self, terms: Iterable[str], leave_out: tuple[datetime, datetime] | None = None
    ) -> tuple[int, dict[str, int]]:
        if leave_out is None:
            return self.documents, {term: self.frequency[term] for term in terms if term in self.frequency}
        documents = self.documents - _between(self.document_times, leave_out)
        found = {
            term: self.frequency[term] - _between(self.term_times.get(term, []), leave_out) for term in terms
        }
        return documents, {term: n for term, n in found.items() if n > 0}

    def copy_candidates(self, bands: list[int], since: datetime | None) -> list[CopyCandidate]:
        found: dict[Hashable, CopyCandidate] = {}
        for band in bands:
            for candidate in self.bands.get(band, ()):
                published = self.published[candidate.key]
                if since is None or published is None or published >= since:
                    found.setdefault(candidate.key, replace(candidate, story=self.story_of(candidate.story)))
        return sorted(found.values(), key=lambda c: self.order[c.key])

    def recent_stories(self, terms: list[str], since: datetime | None) -> list[StoryCandidate]:
        keys: set[int] = set()
        for term in terms:
            keys |= self.index.get(term, set())
        found = []
        for key in sorted(keys):
            story = self.stories[key]
            if since is None or story["last_seen"] is None or story["last_seen"] >= since:
                if key not in self._candidates:
                    self._candidates[key] = StoryCandidate(
                        key=key,
                        profile=story["profile"],
                        last_seen=story["last_seen"],
                        embedding=story.get("embedding"),
                        members=tuple(story["members"]),
                        hub=tuple(story["hub"]),
                    )
                found.append(self._candidates[key])
        return found

    def repeated_sentences(self, source: Hashable, keys: list[int], since: datetime | None) -> set[int]:
        found = set()
        for key in keys:
            seen = self.sentence_seen.get((source, key))
            if (source, key) in self.sentence_undated or (
                seen is not None and (since is None or seen >= since)
            ):
                found.add(key)
        return found

    def embedding_total(self, dimensions: int) -> EmbeddingTotal | None:
        return self.embedding_totals.get(dimensions)

    def merge(
        self,
        keep: Hashable,
        gone: Hashable,
        profile: dict[str, float],
        members: list[dict[str, float]],
        embedding: bytes | None = None,
    ) -> None:
        kept, emptied = self.stories[keep], self.stories[gone]
        self._candidates.pop(keep, None)
        self._candidates.pop(gone, None)
        for key, story in ((keep, kept), (gone, emptied)):
            for term in story["terms"]:
                self.index[term].discard(key)
        kept["profile"], kept["members"] = profile, members
        kept["terms"] = _top(profile, LOOKUP_TERMS)
        for term in kept["terms"]:
            self.index.setdefault(term, set()).add(keep)
        if emptied["last_seen"] is not None and (
            kept["last_seen"] is None or emptied["last_seen"] > kept["last_seen"]
        ):
            kept["last_seen"] = emptied["last_seen"]
        if embedding is not None:
            kept["embedding"] = embedding
        kept["hub"] = top_hub_scores([*kept["hub"], *emptied["hub"]])
        emptied.update(profile={}, members=[], terms=[], embedding=None, hub=[])
        self.merged_into[gone] = keep

    def place(self, article: ArticleInput, placement: Placement, grouped: Grouped) -> Hashable:
        self.order[article.key] = len(self.order)
        self.published[article.key] = article.published
        if placement.copy_of is None:
            # A copy is not an independent document: it would make its words look common.
            self.documents += 1
            self.frequency.update(grouped.terms)
            if article.published is not None:
                insort(self.document_times, article.published)
                for term in grouped.terms:
                    insort(self.term_times.setdefault(term, []), article.published)
            if article.source is not None:
                for sentence in grouped.sentences:
                    seen = (article.source, sentence)
                    if article.published is None:
                        self.sentence_undated.add(seen)
                    elif seen not in self.sentence_seen or self.sentence_seen[seen] < article.published:
                        self.sentence_seen[seen] = article.published
        key = placement.story
        if placement.created:
            key = len(self.stories) + 1
            self.stories[key] = {
                "profile": {},
                "last_seen": article.published,
                "terms": [],
                "members": [],
                "hub": [],
            }
        for other, scores in grouped.hub.items():
            self.stories[other]["hub"] = scores
            self._candidates.pop(other, None)
        story = self.stories[key]
        self._candidates.pop(key, None)
        if article.published and (story["last_seen"] is None or article.published > story["last_seen"]):
            story["last_seen"] = article.published
        if placement.copy_of is None:
            for term in story["terms"]:
                self.index[term].discard(key)
            story["profile"], story["terms"] = grouped.profile, grouped.index_terms
            story["members"] = grouped.members
            if grouped.embedding is not None and grouped.embedding_total is not None:
                story["embedding"] = grouped.story_embedding
                self.embedding_totals[grouped.embedding_total.dimensions] = grouped.embedding_total
            for term in grouped.index_terms:
                self.index.setdefault(term, set()).add(key)
            if grouped.fingerprint:
                candidate = CopyCandidate(
                    key=article.key,
                    story=key,
                    fingerprint=grouped.fingerprint,
                    source=article.source,
                    title=article.title,
                )
                for band in grouped.bands:
                    self.bands.setdefault(band, []).append(candidate)
        return key
