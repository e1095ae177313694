"""articles/reader/cards.py: uncached listings are assembled from cached card fragments,
and a card never outlives the article, summary, comment count, source or story it shows."""

from __future__ import annotations

import pytest

from articles.models import Summary
from comments.models import Comment
from newsroom.pagecache import page_cache
from tests import factories

pytestmark = pytest.mark.django_db


def _card_key(article, **options) -> str:
    """The cache key of the home page's card for `article`'s story."""
    from articles.reader.cards import _card_generation, _story_card_digest
    from articles.reader.stories import story_cards, story_listing

    (card,) = [card for card in story_cards(story_listing()) if article.story_id == card.story.pk]
    options.setdefault("heading_level", 2)
    options.setdefault("hide_topics", False)
    return _story_card_digest(card, generation=_card_generation(), **options)


@pytest.fixture
def uncached_pages(settings):
    settings.PAGE_CACHE_SECONDS = 0
    # The cards beneath a listing: page fragments off, or they would answer first.
    settings.FRAGMENT_CACHE_SECONDS = 0
    settings.CARD_CACHE_SECONDS = 600


def test_an_uncached_listing_reuses_the_cached_card(client, published_article, uncached_pages):
    client.get("/")
    page_cache().set(_card_key(published_article), "<p>card from the cache</p>")
    assert "card from the cache" in client.get("/").content.decode()


def test_a_cached_card_looks_exactly_like_a_freshly_rendered_one(client, published_article, settings):
    settings.PAGE_CACHE_SECONDS = 0
    settings.CARD_CACHE_SECONDS = 0
    fresh = client.get("/").content
    settings.CARD_CACHE_SECONDS = 600
    client.get("/")
    assert client.get("/").content == fresh


def test_publishing_an_article_retires_every_cached_card(
    client, published_article, uncached_pages, django_capture_on_commit_callbacks
):
    client.get("/")
    page_cache().set(_card_key(published_article), "<p>card from the cache</p>")
    with django_capture_on_commit_callbacks(execute=True):
        factories.make_published_article(title="Fresh ferry timetable")
    html = client.get("/").content.decode()
    assert "card from the cache" not in html
    assert published_article.title in html


def test_a_corrected_takeaway_shows_on_the_listing_card(
    client, published_article, editor, uncached_pages, django_capture_on_commit_callbacks
):
    client.get("/")
    fields = factories.summary_fields(kind="editor", producer="Erin", key_takeaway="A corrected takeaway.")
    with django_capture_on_commit_callbacks(execute=True):
        published_article.publish(Summary.create_version(article=published_article, **fields), by=editor)
    assert "A corrected takeaway." in client.get("/").content.decode()


def test_a_new_comment_updates_the_count_on_the_card_at_once(
    client, published_article, reader, uncached_pages, django_capture_on_commit_callbacks
):
    assert "1 comment" not in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        Comment.objects.create(
            article=published_article, author=reader, body="First!", body_html="<p>First!</p>"
        )
    assert "1 comment" in client.get("/").content.decode()


def test_a_renamed_source_shows_on_the_card_though_no_signal_fires(client, published_article, uncached_pages):
    client.get("/")
    source = published_article.source
    source.name = "The Renamed Gazette"
    source.save()
    assert "The Renamed Gazette" in client.get("/").content.decode()


def test_cards_cached_while_a_reader_is_logged_in_hold_nothing_of_theirs(
    client, published_article, reader, uncached_pages
):
    client.force_login(reader)
    client.get("/")
    card = page_cache().get(_card_key(published_article))
    assert card is not None and published_article.title in card
    assert reader.email not in card
    assert "csrfmiddlewaretoken" not in card


def test_a_story_that_gains_a_source_gets_a_new_card_and_other_stories_keep_theirs(
    client, rail, uncached_pages
):
    other = factories.publish(title="Ferry timetable changes")
    client.get("/")
    page_cache().set(_card_key(rail.gazette), "<p>old rail card</p>")
    page_cache().set(_card_key(other), "<p>ferry card from the cache</p>")
    assert "old rail card" in client.get("/").content.decode()

    # Grouping places an article in the story: no publication, so no generation moves.
    factories.make_article(story=rail.story, source=factories.make_source(name="Evening Star"))

    html = client.get("/").content.decode()
    assert "old rail card" not in html
    assert "5 sources" in html and "Evening Star" in html
    assert "ferry card from the cache" in html


# --- Search results: cards stored per article, each search's highlights put in -----------------


def _search(client, words: str) -> str:
    response = client.get("/search/", {"q": words})
    assert response.status_code == 200
    return response.content.decode()


def _mark_search_card(article, words: str) -> None:
    """Write a marker into the stored search card of `article`: it shows while that entry is served."""
    from articles.reader.cards import _search_card_key
    from articles.reader.search import search_hits

    (hit,) = [hit for hit in search_hits(query=words) if hit.pk == article.pk]
    key = _search_card_key(hit, heading_level=3)
    entry = page_cache().get(key)
    assert entry is not None, "no stored search card"
    pieces = entry["card"]["pieces"]
    entry["card"]["pieces"] = (pieces[0] + "<p>card from the cache</p>", *pieces[1:])
    page_cache().set(key, entry)


def test_a_search_is_answered_from_stored_cards_with_its_own_highlights(
    client, published_article, uncached_pages
):
    _search(client, "light rail")
    _mark_search_card(published_article, "light rail")
    html = _search(client, "council")
    assert "card from the cache" in html
    # The stored card has no title or takeaway of its own: each search puts in its own.
    assert published_article.summaries.get().key_takeaway.split()[0] in html


def test_a_new_comment_updates_the_count_on_a_search_card_at_once(
    client, published_article, reader, uncached_pages, django_capture_on_commit_callbacks
):
    assert "1 comment" not in _search(client, "light rail")
    with django_capture_on_commit_callbacks(execute=True):
        Comment.objects.create(
            article=published_article, author=reader, body="First!", body_html="<p>First!</p>"
        )
    assert "1 comment" in _search(client, "light rail")


def test_a_renamed_source_retires_the_stored_search_cards(
    client, published_article, uncached_pages, django_capture_on_commit_callbacks
):
    _search(client, "light rail")
    _mark_search_card(published_article, "light rail")
    with django_capture_on_commit_callbacks(execute=True):
        source = published_article.source
        source.name = "The Renamed Gazette"
        source.save()
    html = _search(client, "light rail")
    assert "The Renamed Gazette" in html and "card from the cache" not in html


@pytest.mark.parametrize("stored", [False, True], ids=["built", "stored"])
def test_a_search_card_is_the_card_template_rendered_with_the_searchs_highlights(
    published_article, settings, stored
):
    from django.template.loader import render_to_string

    from articles.reader.cards import search_cards
    from articles.reader.search import search_articles, search_hits

    settings.CARD_CACHE_SECONDS = 600
    published_article.summaries.update(key_takeaway="Trams & <b>light rail</b> across the river.")
    if stored:
        search_cards(search_hits(query="light rail"))
    [article] = search_articles(query="light rail")
    expected = render_to_string("articles/_card.html", {"article": article, "heading_level": 3})
    assert search_cards(search_hits(query="light rail")) == [expected]
    assert "<mark>" in expected and "&lt;b&gt;" in expected
