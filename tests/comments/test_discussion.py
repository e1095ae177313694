"""comments/discussion.py: the discussion every reader shares, and each reader's own part.

The shared rendering is stored with the article page's fragment; these tests read article pages
as logged-in readers (who bypass the page cache) after the fragment is stored, so what they see
was filled in from it.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template import loader
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments.discussion import (
    build_shared_discussion,
    discussion_context,
    remember_verified_reader,
    shared_discussion_for,
)
from comments.models import Comment, CommentFlag
from comments.services import comment_delete, comment_edit, comment_moderate, comment_post
from tests.factories import make_article, make_commenter, make_user, verify

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _fragments_on(settings):
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 300


def _say(article, author, body: str, parent: Comment | None = None) -> Comment:
    return comment_post(user=author, article=article, body=body, parent=parent)


def _page(client, article) -> str:
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _links(html: str, name: str, comment: Comment) -> bool:
    return f'href="{reverse(name, args=[comment.pk])}"' in html


def test_each_reader_gets_edit_and_delete_links_on_their_own_comments_only(
    client, published_article, commenter, other_commenter
):
    mine = _say(published_article, commenter, "Riley's point")
    theirs = _say(published_article, other_commenter, "Olive's point")
    Client().get(published_article.get_absolute_url())  # an anonymous reader stores the fragment

    client.force_login(commenter)
    riley = _page(client, published_article)
    client.force_login(other_commenter)
    olive = _page(client, published_article)

    for html, own, other in ((riley, mine, theirs), (olive, theirs, mine)):
        assert _links(html, "comments:edit", own) and _links(html, "comments:delete", own)
        assert not _links(html, "comments:edit", other) and not _links(html, "comments:delete", other)
        # Flag someone else's comment, never one's own; reply to both.
        assert f'action="{reverse("comments:flag", args=[other.pk])}"' in html
        assert f'action="{reverse("comments:flag", args=[own.pk])}"' not in html
        assert _links(html, "comments:reply", own) and _links(html, "comments:reply", other)


def test_every_form_on_a_readers_page_carries_that_readers_token_and_no_stand_in(
    client, published_article, commenter, other_commenter
):
    _say(published_article, other_commenter, "Something to flag")
    client.force_login(commenter)
    _page(client, published_article)
    html = _page(client, published_article)

    tokens = set(TOKEN.findall(html))
    # The log-out form, the comment form, the flag form and the reply form's template: one token.
    assert len(TOKEN.findall(html)) == 4 and len(tokens) == 1
    assert "csrf-token-stand-in" not in html and "8765432109876543210" not in html
    # The token is the reader's own: the flag form posts with it.
    comment = Comment.objects.get(body="Something to flag")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(commenter)
    csrf_client.cookies = client.cookies
    response = csrf_client.post(
        reverse("comments:flag", args=[comment.pk]), {"csrfmiddlewaretoken": tokens.pop()}
    )
    assert response.status_code == 302
    assert CommentFlag.objects.filter(comment=comment, user=commenter).exists()


def test_a_comment_that_looks_like_a_slot_stays_text_and_gets_no_token(client, published_article, commenter):
    body = "csrf-token-stand-in 8765432109876543210 top tail"
    _say(published_article, commenter, body)
    client.force_login(commenter)
    _page(client, published_article)
    html = _page(client, published_article)
    assert body in html
    assert len(TOKEN.findall(html)) == 3  # log-out, comment form, reply template: none in the text


def test_a_flagged_comment_shows_flagged_to_that_reader_only(
    client, published_article, commenter, other_commenter
):
    comment = _say(published_article, other_commenter, "Questionable")
    third = make_commenter(email="third@example.com")
    client.force_login(commenter)
    client.post(reverse("comments:flag", args=[comment.pk]))

    assert '<span class="flagged">' in _page(client, published_article)
    client.force_login(third)
    html = _page(client, published_article)
    assert '<span class="flagged">' not in html
    assert f'action="{reverse("comments:flag", args=[comment.pk])}"' in html


def test_a_moderator_gets_moderation_links_and_readers_do_not(
    client, published_article, commenter, other_commenter, moderator
):
    comment = _say(published_article, other_commenter, "Borderline")
    moderate = f"{reverse('admin:comments_comment_changelist')}?id={comment.pk}"
    client.force_login(commenter)
    assert moderate not in _page(client, published_article)
    client.force_login(moderator)
    assert moderate in _page(client, published_article)
    client.logout()
    assert moderate not in _page(client, published_article)


def test_the_moderation_link_opens_the_queue_on_that_comment(
    client, published_article, other_commenter, moderator
):
    comment = _say(published_article, other_commenter, "Borderline")
    _say(published_article, other_commenter, "Another one")
    client.force_login(moderator)
    response = client.get(f"{reverse('admin:comments_comment_changelist')}?id={comment.pk}")
    assert response.status_code == 200
    assert "Borderline" in response.content.decode() and "Another one" not in response.content.decode()


def test_the_author_of_a_held_comment_sees_it_waiting_and_nobody_else_sees_it(
    client, published_article, commenter
):
    _say(published_article, commenter, "Visible to all")
    newcomer = make_commenter(age_days=0, display_name="Nina Newcomer")
    _say(published_article, newcomer, "Waiting for review")
    Client().get(published_article.get_absolute_url())

    client.force_login(newcomer)
    html = _page(client, published_article)
    assert "Waiting for review" in html and "awaiting moderation" in html
    client.force_login(commenter)
    html = _page(client, published_article)
    assert "Waiting for review" not in html and "Visible to all" in html


def test_a_reader_who_cannot_post_is_told_why_and_gets_no_controls(client, published_article, commenter):
    comment = _say(published_article, commenter, "Hello")
    unverified = make_user(email="unverified@example.com")
    client.force_login(unverified)
    html = _page(client, published_article)
    assert "Please verify your email address" in html
    assert 'id="comment-form"' not in html
    assert not _links(html, "comments:reply", comment) and "comments/flag" not in html


def test_an_article_without_a_summary_is_rendered_in_full_from_its_stored_fragment(client, commenter):
    article = make_article(status=Article.Status.PUBLISHED, published_on_site_at=timezone.now())
    _say(article, commenter, "Hello")
    client.force_login(commenter)
    _page(client, article)  # stores the fragment, with no summary in it
    client.force_login(make_user(email="unverified@example.com"))
    html = _page(client, article)  # a reader who cannot post: their discussion in full
    assert "Please verify your email address" in html and "Hello" in html


# --- The shared rendering is the full one --------------------------------------------------------


def _normalised(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="token"', str(html))


@pytest.mark.parametrize("who", ["anonymous", "author", "other reader", "moderator"])
def test_the_shared_rendering_filled_for_a_reader_is_exactly_their_full_rendering(
    published_article, commenter, other_commenter, moderator, who
):
    top = _say(published_article, commenter, "First, by the author")
    reply = _say(published_article, other_commenter, "A reply", parent=top)
    _say(published_article, commenter, "A reply to the reply", parent=reply)
    removed = _say(published_article, other_commenter, "Removed later")
    comment_moderate(comment=removed, moderator=moderator, action="remove", reason="Off topic")
    deleted = _say(published_article, commenter, "Deleted later")
    _say(published_article, other_commenter, "Reply to the deleted one", parent=deleted)
    comment_delete(comment=deleted, user=commenter)
    flagged = _say(published_article, other_commenter, "Flagged by the author")
    CommentFlag.objects.create(comment=flagged, user=commenter)
    user = {
        "anonymous": AnonymousUser(),
        "author": commenter,
        "other reader": other_commenter,
        "moderator": verify(moderator),
    }[who]
    request = RequestFactory().get(published_article.get_absolute_url())
    request.user = user
    request.session = {}
    if user.is_authenticated:
        remember_verified_reader(request, user)  # as logging in does
    article, summary = published_article, published_article.current_summary
    page = {"user": user, "request": request, "csrf_token": "a" * 64, "messages": []}

    stored = build_shared_discussion(article=article, summary=summary)
    with CaptureQueriesContext(connection) as queries:
        shared = shared_discussion_for(stored, rows=lambda: (article, summary), **page)
    # Filled in from the stored thread, not rendered again.
    assert not [
        q for q in queries.captured_queries if 'FROM "comments_comment"' in q["sql"].split("WHERE")[0]
    ]
    full = loader.render_to_string(
        "comments/_discussion.html", discussion_context(article=article, summary=summary, **page)
    )
    assert _normalised(shared) == _normalised(full)


# --- Exact invalidation: each change to the thread retires the shared rendering --------------


@pytest.mark.parametrize("change", ["new", "reply", "edit", "delete", "remove", "approve"])
def test_every_change_to_a_comment_shows_on_the_next_logged_in_page(
    client, published_article, commenter, moderator, django_capture_on_commit_callbacks, change
):
    newcomer = make_commenter(age_days=0, email="newcomer@example.com")
    kept = _say(published_article, commenter, "The original text")
    held = _say(published_article, newcomer, "Held until approved")
    client.force_login(moderator)
    before = _page(client, published_article)  # stores the fragment
    assert "The original text" in before and "Held until approved" not in before

    with django_capture_on_commit_callbacks(execute=True):
        if change == "new":
            _say(published_article, commenter, "A new comment")
        elif change == "reply":
            _say(published_article, commenter, "A new comment", parent=kept)
        elif change == "edit":
            comment_edit(comment=kept, user=commenter, body="A new comment")
        elif change == "delete":
            comment_delete(comment=kept, user=commenter)
        elif change == "remove":
            comment_moderate(comment=kept, moderator=moderator, action="remove", reason="Off topic")
        elif change == "approve":
            comment_moderate(comment=held, moderator=moderator, action="approve")

    after = _page(client, published_article)
    if change in ("new", "reply", "edit"):
        assert "A new comment" in after
    if change in ("edit", "delete", "remove"):
        assert "The original text" not in after
    if change == "approve":
        assert "Held until approved" in after


# --- The per-request cost ---------------------------------------------------------------------


@pytest.mark.parametrize("comments", [3, 300])
@pytest.mark.parametrize("who", ["commenter", "moderator"])
def test_a_logged_in_article_page_costs_the_same_for_3_and_300_comments(
    client, published_article, commenter, other_commenter, moderator, comments, who
):
    authors = [commenter, other_commenter]
    Comment.objects.bulk_create(
        Comment(article=published_article, author=authors[n % 2], body=f"c{n}", body_html=f"<p>c{n}</p>")
        for n in range(comments)
    )
    user = commenter if who == "commenter" else verify(moderator)
    client.force_login(user)
    _page(client, published_article)  # stores the fragment and the session in the cache
    with CaptureQueriesContext(connection) as queries:
        html = _page(client, published_article)
    # The comments the reader flagged (the user comes from the cache); a moderator's permissions
    # add two.
    assert len(queries) <= (1 if who == "commenter" else 3), "\n".join(
        q["sql"][:150] for q in queries.captured_queries
    )
    assert html.count('class="comment"') == comments
