"""articles/stories/grouping.py in memory: the rules place_article applies whatever the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from articles.stories.grouping import ArticleInput, MemoryStore, place_article
from tests.articles.stories.events import MUSEUM, MUSEUM_REWRITE, RAIL, RAIL_REWRITE

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
