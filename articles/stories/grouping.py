"""Placing one article into a story: the same code path for production (store.DatabaseStore)
and for `cluster_eval` (MemoryStore).

1. Copies: an article whose fingerprint matches a recent article's (fingerprint.is_copy)
   joins that article's story as a copy of it (the original, never a copy of a copy).
2. Same event: otherwise the article's TF-IDF vector is compared with the profile of every
   recent story that shares one of its top terms (window: `window` before its publication
   time); the best story scoring at least `threshold` takes it, else it starts a story.

Decisions depend only on the order articles arrive in and on what the store holds, never on
clocks or hash seeds: replaying the same stream gives the same stories. The store is asked
only for stories seen within the window that share a term, so the cost grows with the
number of recent stories, not with the archive.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from . import fingerprint as fp
from .similarity import term_counts, tfidf, title_terms

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


@dataclass(frozen=True)
class ArticleInput:
    key: Hashable
    title: str
    text: str
    published: datetime | None = None
    source: Hashable | None = None


@dataclass(frozen=True)
class StoryCandidate:
    key: Hashable
    profile: Mapping[str, float]
    last_seen: datetime | None


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


@dataclass
class Grouped:
    """What the store records for a placed article, beside the placement itself."""

    vector: dict[str, float]
    profile: dict[str, float]
    index_terms: list[str]
    terms: list[str]
    fingerprint: bytes | None
    bands: list[int] = field(default_factory=list)


class StoryStore(Protocol):
    def frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """Articles grouped so far, and how many of them contain each term."""

    def copy_candidates(self, bands: list[int], since: datetime | None) -> list[CopyCandidate]:
        """Originals published since `since` sharing a band with the fingerprint."""

    def recent_stories(self, terms: list[str], since: datetime | None) -> list[StoryCandidate]:
        """Stories last seen since `since` indexed by one of `terms`."""

    def place(self, article: ArticleInput, placement: Placement, grouped: Grouped) -> Hashable:
        """Record the article in its story (creating it when placement.created; then
        placement.story is None and the new story's key is returned), count its terms, store
        its bands and the story's new profile and index terms."""


def place_article(
    article: ArticleInput, store: StoryStore, *, window: timedelta, threshold: float
) -> Placement:
    """Place `article` into a story through `store` and return where it went."""
    since = article.published - window if article.published else None
    signature = fp.fingerprint(article.text)
    bands = fp.band_keys(signature) if signature else []
    counts = term_counts(article.title, article.text)
    documents, frequencies = store.frequencies(counts)
    # The article counts itself, as it will once placed.
    vector = tfidf(counts, documents + 1, {term: frequencies.get(term, 0) + 1 for term in counts})

    original = _original(article, signature, bands, since, store) if signature else None
    if original is not None:
        placement = Placement(story=original.story, created=False, copy_of=original.key, score=1.0)
        profile = None
    else:
        placement, profile = _best_story(vector, title_terms(article.title), since, store, threshold)
    grouped = Grouped(
        vector=vector,
        profile=profile if profile is not None else {},
        index_terms=_top(profile or vector, LOOKUP_TERMS),
        terms=sorted(counts),
        fingerprint=signature,
        bands=bands,
    )
    key = store.place(article, placement, grouped)
    if placement.created:
        placement = Placement(story=key, created=True, score=placement.score)
    return placement


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


def _best_story(
    vector: Mapping[str, float],
    title: frozenset[str],
    since: datetime | None,
    store: StoryStore,
    threshold: float,
) -> tuple[Placement, dict[str, float]]:
    scored = sorted(
        ((_cosine(vector, c.profile), c) for c in store.recent_stories(_top(vector, LOOKUP_TERMS), since)),
        key=lambda pair: -pair[0],
    )
    background = sum(score for score, _ in scored[1 : 1 + BACKGROUND]) / BACKGROUND if BACKGROUND else 0.0
    for score, candidate in scored:
        if TITLE_GATE and not title.intersection(_top(candidate.profile, LOOKUP_TERMS)):
            continue
        if score - background >= threshold:
            return (
                Placement(story=candidate.key, created=False, score=score),
                _profile(candidate.profile, vector),
            )
        break
    best_score = scored[0][0] if scored else 0.0
    return Placement(story=None, created=True, score=best_score), _profile({}, vector)


def _cosine(vector: Mapping[str, float], profile: Mapping[str, float]) -> float:
    norm = math.sqrt(sum(weight * weight for weight in profile.values()))
    if not norm:
        return 0.0
    return sum(weight * profile.get(term, 0.0) for term, weight in vector.items()) / norm


def _profile(profile: Mapping[str, float], vector: Mapping[str, float]) -> dict[str, float]:
    """The story's profile after adding the article: the sum of its articles' unit vectors,
    cut to its PROFILE_TERMS heaviest terms and rounded for storage."""
    total = Counter(dict(profile))
    total.update(vector)
    return {term: round(weight, 5) for term, weight in _ranked(total)[:PROFILE_TERMS]}


def _ranked(weights: Mapping[str, float]) -> list[tuple[str, float]]:
    # Ties broken by the term, so that the order never depends on insertion order.
    return sorted(weights.items(), key=lambda item: (-item[1], item[0]))


def _top(weights: Mapping[str, float], n: int) -> list[str]:
    return [term for term, _ in _ranked(weights)[:n]]


class MemoryStore:
    """A StoryStore in memory, for cluster_eval and tests: the same decisions as the database
    store, without one."""

    def __init__(self) -> None:
        self.documents = 0
        self.frequency: Counter[str] = Counter()
        self.stories: dict[int, dict] = {}
        self.index: dict[str, set[int]] = {}
        self.bands: dict[int, list[CopyCandidate]] = {}
        self.published: dict[Hashable, datetime | None] = {}
        self.order: dict[Hashable, int] = {}

    def frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        return self.documents, {term: self.frequency[term] for term in terms if term in self.frequency}

    def copy_candidates(self, bands: list[int], since: datetime | None) -> list[CopyCandidate]:
        found: dict[Hashable, CopyCandidate] = {}
        for band in bands:
            for candidate in self.bands.get(band, ()):
                published = self.published[candidate.key]
                if since is None or published is None or published >= since:
                    found.setdefault(candidate.key, candidate)
        return sorted(found.values(), key=lambda c: self.order[c.key])

    def recent_stories(self, terms: list[str], since: datetime | None) -> list[StoryCandidate]:
        keys: set[int] = set()
        for term in terms:
            keys |= self.index.get(term, set())
        found = []
        for key in sorted(keys):
            story = self.stories[key]
            if since is None or story["last_seen"] is None or story["last_seen"] >= since:
                found.append(StoryCandidate(key=key, profile=story["profile"], last_seen=story["last_seen"]))
        return found

    def place(self, article: ArticleInput, placement: Placement, grouped: Grouped) -> Hashable:
        self.order[article.key] = len(self.order)
        self.published[article.key] = article.published
        if placement.copy_of is None:
            # A copy is not an independent document: it would make its words look common.
            self.documents += 1
            self.frequency.update(grouped.terms)
        key = placement.story
        if placement.created:
            key = len(self.stories) + 1
            self.stories[key] = {"profile": {}, "last_seen": article.published, "terms": []}
        story = self.stories[key]
        if article.published and (story["last_seen"] is None or article.published > story["last_seen"]):
            story["last_seen"] = article.published
        if placement.copy_of is None:
            for term in story["terms"]:
                self.index[term].discard(key)
            story["profile"], story["terms"] = grouped.profile, grouped.index_terms
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
