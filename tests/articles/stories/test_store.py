"""articles/stories/store.py: the database store makes exactly the decisions of the in-memory
store on the same stream, so cluster_eval (MemoryStore) measures the production code path."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from articles.models import (
    Article,
    AuditEntry,
    CopyBand,
    EmbeddingCount,
    Source,
    SourceSentence,
    Story,
    StoryTerm,
    TermCount,
)
from articles.stories import services
from articles.stories.boilerplate import keys, sentences
from articles.stories.embeddings import embedding_text, pack, scoring, unit, unpack
from articles.stories.grouping import MemoryStore, place_article
from articles.stories.similarity import lead
from articles.stories.store import DatabaseStore, count_terms, ranked_profile
from tests import factories
from tests.articles.stories.events import MUSEUM, MUSEUM_REWRITE, RAIL, RAIL_REWRITE, SITE_BANNER, WIRE
from tests.fakes.feed_server import fixtures_dir
from tests.fakes.openai_server import BAG_DIMENSIONS, bag_of_words

pytestmark = pytest.mark.django_db

FIXTURES = fixtures_dir()
# Long enough that consolidation merges stories in each stream (UCI: first at article 201-300).
STREAM_SIZE = 300
# Grouping starts mixing in vectors after its warm-up (grouping.EMBEDDING_WARM_UP articles).
EMBEDDED_STREAM_SIZE = 300


def fixture_stream(name: str, limit: int = STREAM_SIZE) -> list[dict]:
    path = FIXTURES / "stories" / name if FIXTURES else None
    if path is None or not path.is_file():
        pytest.skip(f"shared fixture stories/{name} is absent")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for _, line in zip(range(limit), lines, strict=False)]


def store_articles(rows: list[dict]) -> list[Article]:
    """The rows as extracted, ungrouped articles, in stream order (pk order). Rows without a
    date share one publication time: that set is one pool."""
    base = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    sources: dict[str | None, Source] = {}
    articles = []
    for n, row in enumerate(rows):
        name = row.get("source") or "Unnamed"
        if name not in sources:
            sources[name] = factories.make_source(name=name)
        published = dt.datetime.fromisoformat(row["published"]) if row.get("published") else base
        articles.append(
            Article(
                source=sources[name],
                url=f"https://stories.example.com/{n}",
                slug=f"stream-{n}",
                title=row["title"][:500],
                extracted_text=row["text"],
                published_at=published,
                status=Article.Status.EXTRACTED,
            )
        )
    return Article.objects.bulk_create(articles)


def partition(placements: dict[int, tuple]) -> dict[int, tuple]:
    """Story keys named by the first article placed in them, so two stores compare."""
    first: dict = {}
    named = {}
    for key, (story, created, copy_of, score) in placements.items():
        first.setdefault(story, key)
        named[key] = (first[story], created, copy_of, score)
    return named


@pytest.mark.parametrize("name", ["allsides-roundups-dev.jsonl", "uci-news-aggregator-5k.jsonl"])
def test_the_database_store_places_a_real_stream_exactly_as_the_memory_store_does(name):
    articles = store_articles(fixture_stream(name))
    memory = MemoryStore()
    window = timedelta(hours=settings.STORY_WINDOW_HOURS)
    expected, actual = {}, {}
    for article in articles:
        placement = place_article(
            services.article_input(article),
            memory,
            window=window,
            threshold=settings.STORY_SIMILARITY_THRESHOLD,
        )
        expected[article.pk] = (placement.story, placement.created, placement.copy_of, placement.score)
        outcome = services.article_group(article=article)
        actual[article.pk] = (outcome.story_id, outcome.created, outcome.copy_of, outcome.score)

    assert partition(actual) == partition(expected)
    stories = len(set(p[0] for p in expected.values()))
    assert 1 < stories < len(articles)  # the stream really was grouped, not all apart or together
    assert Story.objects.count() == stories
    assert sum(s.article_count for s in Story.objects.all()) == len(articles)
    assert TermCount.objects.get(term="").documents == memory.documents
    # Consolidation merged stories on the way (each stream has one merge at least), and
    # where every article ends is the same too.
    assert memory.merged_into
    final = {pk: (memory.story_of(story), False, None, 0.0) for pk, (story, *_) in expected.items()}
    stored = dict(Article.objects.filter(pk__in=expected).values_list("pk", "story_id"))
    assert partition({pk: (stored[pk], False, None, 0.0) for pk in expected}) == partition(final)
    # Each memory story's row: the story its first article went to in the database.
    row_of = {story: actual[pk][0] for pk, (story, *_) in reversed(expected.items())}
    for gone in memory.merged_into:
        row = Story.objects.get(pk=row_of[gone])
        assert row.article_count == 0 and row.merged_into_id == row_of[memory.story_of(gone)]
    # Each automatic merge is in the audit trail, as an editor's merge is.
    merges = AuditEntry.objects.filter(action="story_merge")
    assert sorted(e.details["from_story"] for e in merges) == sorted(
        row_of[gone] for gone in memory.merged_into
    )
    assert all(e.automatic and e.actor is None and e.target_type == "articles.story" for e in merges)
    # Each names the articles the merged story held, which are in the story kept.
    for entry in merges:
        assert entry.details["articles"]
        assert set(
            Article.objects.filter(pk__in=entry.details["articles"]).values_list("story_id", flat=True)
        ) == {Story.objects.get(pk=entry.details["from_story"]).merged_into_id}


def test_with_embeddings_the_database_store_places_a_real_stream_as_the_memory_store_does(fake_embeddings):
    # Vectors stored on the rows beforehand (as a re-grouping finds them): no request is made,
    # and both stores see the same float32 values. Past the warm-up they change placements.
    rows = fixture_stream("allsides-roundups-dev.jsonl", limit=EMBEDDED_STREAM_SIZE)
    articles = store_articles(rows)
    vectors = {a.pk: unit(bag_of_words(embedding_text(a.title, a.extracted_text))) for a in articles}
    for article in articles:
        Article.objects.filter(pk=article.pk).update(embedding=pack(vectors[article.pk]))
    window = timedelta(hours=settings.STORY_WINDOW_HOURS)
    threshold, weight = scoring()

    def memory_run(embedding_weight: float) -> dict:
        memory = MemoryStore()
        placements = {}
        for article in articles:
            data = replace(services.article_input(article), embedding=vectors[article.pk])
            placement = place_article(
                data,
                memory,
                window=window,
                threshold=threshold,
                embedding_weight=embedding_weight,
            )
            placements[article.pk] = (placement.story, placement.created, placement.copy_of, placement.score)
        return placements

    expected = memory_run(weight)
    actual = {}
    for article in Article.objects.filter(pk__in=vectors).order_by("pk"):
        outcome = services.article_group(article=article)
        actual[article.pk] = (outcome.story_id, outcome.created, outcome.copy_of, outcome.score)

    assert partition(actual) == partition(expected)
    assert partition(expected) != partition(memory_run(0.0))  # the vectors took part
    assert fake_embeddings.requests == []
    originals = sum(1 for p in expected.values() if p[2] is None)
    assert EmbeddingCount.objects.get(dimensions=BAG_DIMENSIONS).articles == originals


def test_document_frequencies_count_each_term_once_per_article_on_one_upsert():
    count_terms(["rail", "council"])
    count_terms(["rail"])

    assert dict(TermCount.objects.values_list("term", "documents")) == {"": 2, "rail": 2, "council": 1}


def test_a_stored_profile_comes_back_in_the_order_grouping_built_it():
    # PostgreSQL's jsonb reorders object keys; grouping sums weights heaviest first.
    assert list(ranked_profile({"b": 0.5, "a": 0.5, "c": 0.9, "d": 0.1})) == ["c", "a", "b", "d"]


def test_a_story_left_without_articles_is_no_candidate_for_a_new_one():
    now = timezone.now()
    emptied = factories.make_story(title="Merged away")  # no articles: counts are zero
    StoryTerm.objects.create(story=emptied, term="rail", last_seen_at=now)
    live = factories.make_story(articles=1)
    StoryTerm.objects.create(story=live, term="rail", last_seen_at=now)

    found = DatabaseStore().recent_stories(["rail"], now - timedelta(hours=1))

    assert [c.key for c in found] == [live.pk]


def test_a_story_an_editor_shaped_is_offered_as_locked_so_grouping_never_merges_it():
    now = timezone.now()
    shaped, automatic = factories.make_story(articles=1), factories.make_story(articles=1)
    Story.objects.filter(pk=shaped.pk).update(editor_locked=True)
    for story in (shaped, automatic):
        StoryTerm.objects.create(story=story, term="rail", last_seen_at=now)

    found = DatabaseStore().recent_stories(["rail"], now - timedelta(hours=1))

    assert [(c.key, c.locked) for c in found] == [(shaped.pk, True), (automatic.pk, False)]


def test_a_merge_moves_the_articles_and_leaves_the_younger_story_empty_pointing_to_the_older():
    now = timezone.now()
    older, younger = factories.make_story(articles=2), factories.make_story(articles=1)
    for story in (older, younger):
        StoryTerm.objects.create(story=story, term="rail", last_seen_at=now)
    store = DatabaseStore()
    store.recent_stories(["rail"], now - timedelta(hours=1))
    profile, members = {"rail": 1.5, "river": 0.5}, [{"rail": 0.9}, {"river": 0.8}]
    Story.objects.filter(pk=younger.pk).update(embedding=pack([0.0, 1.0]), hub_scores=[0.5, 0.3, 0.2])
    Story.objects.filter(pk=older.pk).update(hub_scores=[0.4] * 9)

    store.merge(older.pk, younger.pk, profile, members, pack([1.0, 1.0]))

    older.refresh_from_db()
    younger.refresh_from_db()
    assert (older.article_count, older.profile, older.member_vectors) == (3, profile, members)
    assert unpack(older.embedding) == (1.0, 1.0)
    # The merged story was matched by the articles placed elsewhere of both: the ten highest.
    assert older.hub_scores == [0.5] + [0.4] * 9
    assert (younger.article_count, younger.merged_into_id, younger.profile, younger.member_vectors) == (
        0,
        older.pk,
        {},
        [],
    )
    assert younger.hub_scores == []
    assert younger.embedding is None
    assert set(StoryTerm.objects.values_list("story_id", "term")) == {(older.pk, "rail"), (older.pk, "river")}
    assert [c.key for c in store.recent_stories(["rail"], now - timedelta(hours=1))] == [older.pk]


def test_copy_candidates_are_recent_originals_sharing_a_band_in_placement_order():
    now = timezone.now()
    first, second, copy, old = (factories.make_article() for _ in range(4))
    for article, published in ((first, now), (second, now), (copy, now), (old, now - timedelta(days=5))):
        Article.objects.filter(pk=article.pk).update(fingerprint=b"x" * 512)
        CopyBand.objects.create(article=article, key=7, published_at=published)
    Article.objects.filter(pk=copy.pk).update(duplicate_of=first)

    found = DatabaseStore().copy_candidates([7, 8], now - timedelta(days=2))

    assert [c.key for c in found] == [first.pk, second.pk]
    assert DatabaseStore(find_copies=False).copy_candidates([7], None) == []


# --- A site's repeated text ----------------------------------------------------------------

CITY_RAIL = ("City council approves light-rail line", SITE_BANNER + RAIL[1])
CITY_MUSEUM = ("City museum reopens after renovation", SITE_BANNER + MUSEUM[1])


class LeadRecordingStore(MemoryStore):
    """A MemoryStore that keeps the lead each original's vector was made of."""

    def __init__(self) -> None:
        super().__init__()
        self.leads: dict = {}

    def place(self, article, placement, grouped):
        if placement.copy_of is None:
            self.leads[article.key] = grouped.lead
        return super().place(article, placement, grouped)


def banner_stream() -> list[Article]:
    """Extracted, ungrouped articles in publication (and pk) order: one site's reports behind
    its banner, two of them unrelated with "City" in both titles, another outlet's rewrites, a
    repost of the site's own article, and a report of the site's from after the window."""
    site, outlet = factories.make_source(name="City Site"), factories.make_source(name="Outlet")
    start = timezone.now() - timedelta(days=10)
    rows = [
        (site, CITY_RAIL, 0),
        (site, CITY_MUSEUM, 1),
        (outlet, RAIL_REWRITE, 2),
        (site, (MUSEUM_REWRITE[0], SITE_BANNER + MUSEUM_REWRITE[1]), 3),
        (site, CITY_RAIL, 4),  # the same page again at another URL
        (outlet, MUSEUM_REWRITE, 5),
        (site, (WIRE[0], SITE_BANNER + WIRE[1]), 24 * 3),
    ]
    return [
        factories.make_ungrouped_article(
            source=source, title=title, extracted_text=text, published_at=start + timedelta(hours=hours)
        )
        for source, (title, text), hours in rows
    ]


def test_two_unrelated_articles_of_one_site_sharing_its_banner_and_a_title_word_stay_apart():
    site = factories.make_source()
    rail = factories.make_ungrouped_article(source=site, title=CITY_RAIL[0], extracted_text=CITY_RAIL[1])
    museum = factories.make_ungrouped_article(
        source=site, title=CITY_MUSEUM[0], extracted_text=CITY_MUSEUM[1]
    )

    first, second = services.article_group(article=rail), services.article_group(article=museum)

    assert first.story_id != second.story_id and second.created
    rail.refresh_from_db()
    museum.refresh_from_db()
    # The site's first article is read whole; its second without what the first had.
    assert rail.grouping_lead == lead(CITY_RAIL[1])
    assert museum.grouping_lead == lead(MUSEUM[1])
    assert SourceSentence.objects.filter(article=museum).count() == len(keys(sentences(*CITY_MUSEUM)))


def test_the_database_store_leaves_out_a_sites_repeated_text_as_the_memory_store_does():
    articles = banner_stream()
    memory = LeadRecordingStore()
    window = timedelta(hours=settings.STORY_WINDOW_HOURS)
    expected, actual = {}, {}
    for article in articles:
        data = services.article_input(article)
        placement = place_article(data, memory, window=window, threshold=settings.STORY_SIMILARITY_THRESHOLD)
        expected[article.pk] = (placement.story, placement.created, placement.copy_of, placement.score)
        outcome = services.article_group(article=article)
        actual[article.pk] = (outcome.story_id, outcome.created, outcome.copy_of, outcome.score)

    assert partition(actual) == partition(expected)
    stored = dict(
        Article.objects.filter(pk__in=expected, duplicate_of=None).values_list("pk", "grouping_lead")
    )
    assert stored == {pk: lead for pk, lead in memory.leads.items() if pk in stored}
    rail, museum, rail_rewrite, museum_rewrite, repost, other_museum, later = (
        Article.objects.get(pk=a.pk) for a in articles
    )
    assert rail.story_id == rail_rewrite.story_id != museum.story_id
    assert museum.story_id == museum_rewrite.story_id == other_museum.story_id
    assert repost.duplicate_of_id == rail.pk and repost.grouping_lead is None
    assert museum_rewrite.grouping_lead == lead(MUSEUM_REWRITE[1])
    # Three days on, the site's earlier pages are out of the window: its banner is read again.
    assert later.grouping_lead == lead(SITE_BANNER + WIRE[1])


def test_reindexing_and_regrouping_read_the_lead_each_article_was_grouped_by():
    articles = banner_stream()
    for article in articles:
        services.article_group(article=article)
    placed = dict(Article.objects.values_list("pk", "story_id"))
    leads = dict(Article.objects.values_list("pk", "grouping_lead"))
    sentence_rows = sorted(SourceSentence.objects.values_list("article_id", "key", "published_at"))
    museum = Story.objects.get(pk=placed[articles[1].pk])
    terms_placed = set(museum.profile)

    services.story_reindex(story=museum)

    museum.refresh_from_db()
    assert set(museum.profile) == terms_placed
    assert not {"cookie", "privacy", "partner"} & terms_placed  # the banner is no term of it

    outcome = services.stories_regroup()

    assert outcome.moved == 0
    assert dict(Article.objects.values_list("pk", "story_id")) == placed
    assert dict(Article.objects.values_list("pk", "grouping_lead")) == leads
    assert sorted(SourceSentence.objects.values_list("article_id", "key", "published_at")) == sentence_rows


def test_pruning_drops_the_sentence_keys_of_articles_published_before_the_kept_days():
    old, recent = (
        factories.make_ungrouped_article(extracted_text=CITY_RAIL[1]),
        factories.make_ungrouped_article(),
    )
    services.article_group(article=old)
    services.article_group(article=recent)
    SourceSentence.objects.filter(article=old).update(published_at=timezone.now() - timedelta(days=40))
    old_rows = SourceSentence.objects.filter(article=old).count()

    deleted = services.story_index_prune(older_than=timedelta(days=30))

    assert deleted["source_sentences"] == old_rows > 1
    assert not SourceSentence.objects.filter(article=old).exists()
    assert SourceSentence.objects.filter(article=recent).exists()
