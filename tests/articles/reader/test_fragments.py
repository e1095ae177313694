"""articles/reader/fragments.py: pages assembled from shared fragments plus a per-reader part.

Logged-in readers bypass the page cache, so these tests read pages as logged-in readers (and
as anonymous readers with the page cache off): what they see comes from the fragments.
Changes run inside `django_capture_on_commit_callbacks(execute=True)`, so the invalidation
that a commit sets off really runs.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from articles.models import Article, Story, Summary, story_changed
from articles.reader.fragments import fragment_key
from articles.reader.search import RESULTS_PER_PAGE
from comments.models import Comment
from newsroom.pagecache import page_cache
from tests import factories

pytestmark = pytest.mark.django_db

MARK = "<p>served from the stored fragment</p>"


def _comment(article: Article, author, body: str) -> Comment:
    return Comment.objects.create(article=article, author=author, body=body, body_html=f"<p>{body}</p>")


@pytest.fixture(autouse=True)
def _fragments_on(settings):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 300


def _mark_stored(path: str, *, name: str = "article") -> None:
    """Write a marker into the stored fragment of `path`: it shows while that entry is served."""
    key = fragment_key(name=name, path=path)
    entry = page_cache().get(key)
    assert entry is not None, f"no stored fragment for {path}"
    part = "after" if name == "article" else "content"
    entry["parts"][part] = mark_safe(MARK)  # noqa: S308 - a test constant
    page_cache().set(key, entry)


def _html(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


@pytest.fixture
def riley(db):
    return factories.make_commenter(email="riley@example.com", display_name="Riley Reader")


@pytest.fixture
def sam(db):
    return factories.make_commenter(email="sam@example.com", display_name="Sam Second")


# --- What each reader sees -------------------------------------------------------------------


def test_a_logged_in_page_never_contains_another_readers_part(client, published_article, riley, sam):
    riley_comment = _comment(published_article, riley, "Riley says")
    sam_comment = _comment(published_article, sam, "Sam says")
    path = published_article.get_absolute_url()
    edit = {c.pk: reverse("comments:edit", args=[c.pk]) for c in (riley_comment, sam_comment)}
    profile = reverse("profile")

    client.force_login(riley)
    riley_page = _html(client, path)  # builds and stores the fragments
    client.force_login(sam)
    sam_page = _html(client, path)  # served from them

    assert f'<a href="{profile}">Sam Second</a>' in sam_page
    assert f'<a href="{profile}">Riley Reader</a>' not in sam_page
    assert edit[sam_comment.pk] in sam_page and edit[riley_comment.pk] not in sam_page
    assert f'<a href="{profile}">Riley Reader</a>' in riley_page
    assert edit[riley_comment.pk] in riley_page and edit[sam_comment.pk] not in riley_page
    # Each page carries its reader's own form, and the shared parts are in both.
    assert 'name="csrfmiddlewaretoken"' in sam_page
    assert published_article.summaries.get().key_takeaway in sam_page
    assert "Riley says" in sam_page and "Sam says" in sam_page


def test_an_anonymous_page_built_after_a_logged_in_one_has_no_form_and_no_name(
    client, published_article, riley
):
    _comment(published_article, riley, "Riley says")
    path = published_article.get_absolute_url()
    client.force_login(riley)
    _html(client, path)
    client.logout()

    anonymous = _html(client, path)
    assert "Riley says" in anonymous
    assert "csrfmiddlewaretoken" not in anonymous
    assert reverse("comments:edit", args=[Comment.objects.get().pk]) not in anonymous
    assert "Log in to join the discussion" in anonymous


def test_a_logged_in_article_page_is_served_from_its_stored_fragment(client, published_article, riley):
    path = published_article.get_absolute_url()
    client.force_login(riley)
    _html(client, path)
    _mark_stored(path)
    assert MARK in _html(client, path)


def test_listing_pages_are_served_from_their_stored_fragments(client, published_article, riley):
    client.force_login(riley)
    for path in ("/", published_article.source.get_absolute_url()):
        _html(client, path)
        _mark_stored(path, name="listing")
        assert MARK in _html(client, path), path


def test_an_address_that_is_not_the_canonical_one_is_never_stored(client, published_article, riley):
    client.force_login(riley)
    _html(client, "/?page=999")
    assert page_cache().get(fragment_key(name="listing", path="/", variant="999")) is None
    assert page_cache().get(fragment_key(name="listing", path="/", variant="")) is None


def test_a_missing_page_is_a_404_and_stores_nothing(client, riley):
    client.force_login(riley)
    assert client.get("/a/no-such-article/").status_code == 404
    assert client.get("/topics/no-such-topic/").status_code == 404
    assert page_cache().get(fragment_key(name="article", path="/a/no-such-article/")) is None


# --- The per-request cost ----------------------------------------------------------------------

# A logged-in page from stored fragments: no query for the session or the user (both come from
# the cache), and on an article page one for the comments the reader flagged (the discussion is
# stored with the fragment; that the reader has a verified address is remembered in their session
# from the log-in).
LISTING_HIT_QUERIES = 0
ARTICLE_HIT_QUERIES = 1
SEARCH_QUERIES = 1


@pytest.mark.parametrize("size", [3, 300])
def test_a_logged_in_page_from_stored_fragments_costs_the_same_for_3_and_300_articles(client, riley, size):
    topic = factories.make_topic("Transport")
    articles = [factories.make_published_article(title=f"Story number {n}") for n in range(size)]
    Article.topics.through.objects.bulk_create(
        [Article.topics.through(article_id=a.pk, topic_id=topic.pk) for a in articles]
    )
    Comment.objects.bulk_create(
        [Comment(article=a, author=riley, body="Hello", body_html="<p>Hello</p>") for a in articles]
    )
    client.force_login(riley)
    listings = ["/", topic.get_absolute_url(), articles[0].source.get_absolute_url()]
    if size > 20:  # a second page exists (with 3 articles ?page=2 is not an address of its own)
        listings.append("/?page=2")
    search = "/search/?q=story+number"
    for path in listings + [articles[0].get_absolute_url(), search]:
        _html(client, path)  # stores the fragments and cards (and the session and user in the cache)

    for path in listings:
        with CaptureQueriesContext(connection) as queries:
            _html(client, path)
        assert len(queries) <= LISTING_HIT_QUERIES, (path, [q["sql"] for q in queries.captured_queries])
    with CaptureQueriesContext(connection) as queries:
        html = _html(client, articles[0].get_absolute_url())
    assert len(queries) <= ARTICLE_HIT_QUERIES, [q["sql"] for q in queries.captured_queries]
    assert "Riley Reader" in html and reverse("comments:edit", args=[articles[0].comments.get().pk]) in html
    # A search is its one query, the cards come from the cache.
    with CaptureQueriesContext(connection) as queries:
        html = _html(client, search)
    assert len(queries) <= SEARCH_QUERIES, [q["sql"] for q in queries.captured_queries]
    assert html.count('class="card"') == min(size, RESULTS_PER_PAGE)


def test_an_anonymous_page_from_stored_fragments_costs_no_query(client, published_article):
    path = published_article.get_absolute_url()
    _html(client, path)
    with CaptureQueriesContext(connection) as queries:
        _html(client, path)
    assert len(queries) == 0, [q["sql"] for q in queries.captured_queries]


# --- Invalidation: each change retires exactly the fragments that show it ---------------------


@pytest.fixture
def two_articles(db, riley):
    """Two published articles of different stories and sources, their fragments stored and marked."""
    first = factories.publish(title="Council approves the light-rail line")
    second = factories.publish(title="Ferry timetable changes")
    return first, second


def _store_and_mark(client, *articles: Article) -> None:
    for article in articles:
        _html(client, article.get_absolute_url())
        _mark_stored(article.get_absolute_url())


def test_a_new_comment_retires_its_article_fragment_and_no_other(
    client, two_articles, riley, django_capture_on_commit_callbacks
):
    first, second = two_articles
    _store_and_mark(client, first, second)
    with django_capture_on_commit_callbacks(execute=True):
        _comment(first, riley, "A brand new comment")

    page = _html(client, first.get_absolute_url())
    assert "A brand new comment" in page and MARK not in page
    assert MARK in _html(client, second.get_absolute_url())


def test_a_removed_comment_leaves_its_article_page_at_once(
    client, two_articles, riley, django_capture_on_commit_callbacks
):
    first, second = two_articles
    comment = _comment(first, riley, "Soon to be removed")
    _store_and_mark(client, first, second)
    with django_capture_on_commit_callbacks(execute=True):
        comment.transition_to(Comment.Status.REMOVED, reason="Off topic")

    page = _html(client, first.get_absolute_url())
    assert "Soon to be removed" not in page and MARK not in page
    assert MARK in _html(client, second.get_absolute_url())


def test_a_correction_retires_the_article_fragment(client, two_articles, django_capture_on_commit_callbacks):
    first, _ = two_articles
    _store_and_mark(client, first)
    with django_capture_on_commit_callbacks(execute=True):
        fields = factories.summary_fields(kind="editor", producer="E", key_takeaway="The corrected takeaway.")
        first.publish(Summary.create_version(article=first, **fields))

    page = _html(client, first.get_absolute_url())
    assert "The corrected takeaway." in page and MARK not in page


def test_an_edit_retires_the_article_fragment(client, two_articles, django_capture_on_commit_callbacks):
    first, _ = two_articles
    _store_and_mark(client, first)
    with django_capture_on_commit_callbacks(execute=True):
        first.title = "Council approves the light-rail line, with conditions"
        first.save(update_fields=["title"])

    page = _html(client, first.get_absolute_url())
    assert "with conditions" in page and MARK not in page


def test_a_publication_retires_the_listing_fragments(
    client, two_articles, django_capture_on_commit_callbacks
):
    _html(client, "/")
    _mark_stored("/", name="listing")
    with django_capture_on_commit_callbacks(execute=True):
        factories.publish(title="Harbour bridge reopens", ago=dt.timedelta(minutes=1))

    page = _html(client, "/")
    assert "Harbour bridge reopens" in page and MARK not in page


def test_a_renamed_source_retires_the_fragments_that_show_its_name(
    client, two_articles, django_capture_on_commit_callbacks
):
    first, _ = two_articles
    _store_and_mark(client, first)
    _html(client, "/")
    _mark_stored("/", name="listing")
    source = first.source
    with django_capture_on_commit_callbacks(execute=True):
        source.name = "The Renamed Gazette"
        source.save()

    for path in ("/", first.get_absolute_url()):
        page = _html(client, path)
        assert "The Renamed Gazette" in page and MARK not in page, path


def test_polling_a_source_retires_nothing(client, two_articles, django_capture_on_commit_callbacks):
    first, _ = two_articles
    _store_and_mark(client, first)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first.source.save(update_fields=["etag"])
    assert callbacks == []
    assert MARK in _html(client, first.get_absolute_url())


def test_a_story_change_retires_the_fragments_of_its_pages_only(
    client, rail, two_articles, django_capture_on_commit_callbacks
):
    _, second = two_articles
    _store_and_mark(client, rail.gazette, second)
    with django_capture_on_commit_callbacks(execute=True):
        factories.make_article(
            story=rail.story,
            source=factories.make_source(name="Evening Star"),
            published_at=timezone.now(),
        )
        story_changed.send(sender=Story, story_ids=[rail.story.pk])

    page = _html(client, rail.gazette.get_absolute_url())
    assert "Evening Star" in page and MARK not in page
    assert MARK in _html(client, second.get_absolute_url())


def test_nothing_is_retired_before_the_change_commits(client, two_articles, riley):
    first, _ = two_articles
    _store_and_mark(client, first)
    _comment(first, riley, "Not committed yet")  # no commit here
    assert MARK in _html(client, first.get_absolute_url())
