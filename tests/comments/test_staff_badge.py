"""templates/comments/_comment.html: staff are marked in the discussion, so a reader's name
cannot pass for theirs even where accounts/names.py's look-alike check falls short."""

from __future__ import annotations

import lxml.html
from django.test import Client

from comments.services import comment_post
from tests import factories


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def authors_and_badges(html: str) -> list[tuple[str, list[str]]]:
    """(author name, staff badges) of each comment, read with lxml's HTML parser."""
    page = lxml.html.fromstring(html)
    rows = []
    for meta in page.xpath(f"//li[{_has_class('comment')}]/p[{_has_class('comment-meta')}]"):
        author = meta.xpath(f"./strong[{_has_class('author')}]")[0].text_content()
        badges = meta.xpath(f"./span[{_has_class('badge')} and {_has_class('staff')}]")
        rows.append((author, [badge.text_content() for badge in badges]))
    return rows


def test_a_staff_members_comment_carries_a_staff_badge_and_a_readers_does_not(
    commenter, editor, published_article
):
    factories.verify(editor)
    comment_post(user=editor, article=published_article, body="We have corrected the figure.")
    comment_post(user=commenter, article=published_article, body="Thanks for the fix.")

    html = Client().get(published_article.get_absolute_url()).content.decode()

    assert sorted(authors_and_badges(html)) == [("Erin Editor", ["staff"]), ("Riley Reader", [])]


def test_a_reader_with_a_name_close_to_staff_still_shows_no_badge(editor, published_article):
    # Taken before the name rule existed (or a look-alike the skeleton misses).
    lookalike = factories.make_commenter(email="erin@example.org", display_name="Erin Edit0r.")
    comment_post(user=lookalike, article=published_article, body="Trust me, I work here.")

    html = Client().get(published_article.get_absolute_url()).content.decode()

    assert authors_and_badges(html) == [(lookalike.public_name, [])]
