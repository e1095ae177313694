"""articles/stories/grouping.py in memory: the rules place_article applies whatever the store."""

from __future__ import annotations

import logging
from array import array
from datetime import UTC, datetime, timedelta

from articles.stories.embeddings import unit, unpack
from articles.stories.grouping import ArticleInput, EmbeddingTotal, MemoryStore, place_article
from tests.articles.stories.events import MUSEUM, MUSEUM_REWRITE, RAIL, RAIL_PARAPHRASE, RAIL_REWRITE

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
WINDOW = timedelta(hours=48)


def place_all(events, *, threshold: float = 0.175, store=None):
    store = store or MemoryStore()
    return [
        place_article(
            ArticleInput(key=i, title=title, text=text, published=START + timedelta(hours=i), source=source),
            store,
            window=WINDOW,
            threshold=threshold,
        ).story
        for i, (title, text, source) in enumerate(events)
    ]


def test_the_same_stream_gives_the_same_stories_every_time():
    events = [(*RAIL, "a"), (*MUSEUM, "b"), (*RAIL_REWRITE, "c"), (*MUSEUM_REWRITE, "d")]

    assert place_all(events) == place_all(events) == [1, 2, 1, 2]


def test_a_feed_template_shared_by_a_sites_entries_does_not_glue_them():
    template = (
        "The post {} appeared first on Riverside Gazette. Subscribe to the Riverside Gazette newsletter "
        "for the morning briefing, follow us on social media and share this story with your friends."
    )
    titles = [
        "Ferry timetable changes for winter",
        "School choir wins regional prize",
        "Bakery on Main Street closes",
    ]
    events = [(title, template.format(title), "gazette") for title in titles]

    assert len(set(place_all(events))) == 3


def test_a_title_word_must_index_the_story_even_when_the_texts_share_much():
    shared = " ".join(["harbour festival fireworks lanterns parade"] * 6)
    joined = place_all(
        [("Harbour festival opens", shared, "a"), ("Harbour festival in pictures", shared, "b")]
    )
    apart = place_all([("Harbour festival opens", shared, "a"), ("Tax office moves", shared, "b")])

    assert joined[0] == joined[1]
    assert apart[0] != apart[1]


def test_an_article_with_neither_title_words_nor_text_starts_a_story_of_its_own():
    stories = place_all([(*RAIL, "a"), ("", "", "b"), ("!!!", "", "c")])

    assert len(set(stories)) == 3


def embedded_store(*, articles: int = 1000, mean: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)) -> MemoryStore:
    """A store that has already embedded `articles` originals whose vectors average `mean`."""
    store = MemoryStore()
    total = array("d", (m * articles for m in mean)).tobytes()
    store.embedding_totals[len(mean)] = EmbeddingTotal(dimensions=len(mean), articles=articles, total=total)
    return store


def place_embedded(events, store: MemoryStore, *, weight: float = 0.5):
    """Place (title, text, vector) events an hour apart, each from its own source."""
    return [
        place_article(
            ArticleInput(
                key=i,
                title=title,
                text=text,
                published=START + timedelta(hours=i),
                source=i,
                embedding=unit(vector),
            ),
            store,
            window=WINDOW,
            threshold=0.175,
            embedding_weight=weight,
        ).story
        for i, (title, text, vector) in enumerate(events)
    ]


def test_a_paraphrase_sharing_no_title_word_joins_the_story_when_the_two_embed_alike():
    alike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0.96, 0.28, 0, 0))]
    unlike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0, 0, 1, 0))]

    assert len(set(place_embedded(alike, embedded_store()))) == 1
    assert len(set(place_embedded(unlike, embedded_store()))) == 2
    # Without embeddings no title word indexes the story: the title gate keeps them apart.
    assert len(set(place_embedded(alike, embedded_store(), weight=0.0))) == 2


def test_embeddings_are_compared_after_removing_what_all_news_shares():
    # Every article so far points mostly along the first axis: two articles that only share
    # that are unrelated, however high their raw cosine (0.81 here).
    store = embedded_store(mean=(0.9, 0.0, 0.0, 0.0))
    events = [(*RAIL, (0.9, 0.436, 0, 0)), (*RAIL_PARAPHRASE, (0.9, 0, 0.436, 0))]

    assert len(set(place_embedded(events, store))) == 2


def test_until_enough_articles_are_embedded_articles_are_placed_by_tfidf_alone():
    store = embedded_store(articles=50)
    alike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0.96, 0.28, 0, 0))]

    assert len(set(place_embedded(alike, store))) == 2
    # Their vectors still count towards the mean that later placements subtract.
    assert store.embedding_totals[4].articles == 52


def test_a_vector_of_another_dimension_than_the_stories_is_placed_by_tfidf_alone_and_not_kept(caplog):
    store = embedded_store()
    store.embedding_totals[3] = EmbeddingTotal(
        dimensions=3, articles=1000, total=array("d", [0.0] * 3).tobytes()
    )
    events = [(*RAIL, (1, 0, 0, 0)), (*RAIL_REWRITE, (1, 0, 0)), (*RAIL_PARAPHRASE, (1, 0, 0))]

    with caplog.at_level(logging.WARNING):
        stories = place_embedded(events, store)

    # The rewrite shares title words and joins by TF-IDF; the paraphrase needs its meaning.
    assert stories[0] == stories[1] != stories[2]
    assert "Embedding has 3 dimensions" in caplog.text and "TF-IDF alone" in caplog.text
    assert store.embedding_totals[3].articles == 1000  # neither 3-dimension vector was kept
    assert unpack(store.stories[stories[0]]["embedding"]) == (1.0, 0.0, 0.0, 0.0)
