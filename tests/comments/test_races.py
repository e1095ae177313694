"""One comment changed by two people at once on PostgreSQL: every decision is a
compare-and-set against the version its maker saw, so exactly one of two conflicting
decisions lands (and is audited), and no reader's flag is lost. Each side reads the
comment on its own connection before either writes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from articles.models import AuditEntry
from comments.models import Comment
from comments.services import (
    CommentRefused,
    Moderation,
    ModerationAction,
    comment_delete,
    comment_edit,
    comment_flag,
    comment_moderate,
    comment_post,
)
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def moderators():
    # Plain staff users: a transactional test's flush has removed the migrated groups, and
    # comment_moderate leaves permissions to the admin.
    return [factories.make_user(email=f"mod{n}@example.com", staff=True) for n in (1, 2)]


def race_on_comment(comment_id: int, *writes: Callable[[Comment], Any]) -> list[Any]:
    """Each write gets its own copy of the comment, read on its own connection; no write
    starts before every copy is read."""
    all_read = threading.Barrier(len(writes))

    def step(write: Callable[[Comment], Any]) -> Callable[[], Any]:
        def run() -> Any:
            row = Comment.objects.select_related("article", "author").get(pk=comment_id)
            all_read.wait(10)
            return write(row)

        return run

    return race(*(step(write) for write in writes))


def one_winner(results: list[Any]) -> int:
    """The index of the one side that succeeded; the other was refused (as stale, or as
    "removed" when an author finds a moderator got there first)."""
    refused = [r for r in results if isinstance(r, CommentRefused)]
    assert len(refused) == 1 and refused[0].status in (403, 409), results
    return next(i for i, r in enumerate(results) if not isinstance(r, BaseException))


def audited(comment: Comment) -> list[str]:
    return list(AuditEntry.objects.filter(target_id=str(comment.pk)).values_list("action", flat=True))


def test_a_remove_racing_an_approve_of_a_held_comment_has_exactly_one_winner(moderators, published_article):
    newcomer = factories.make_commenter(age_days=0)
    held = comment_post(user=newcomer, article=published_article, body="First post, please approve")
    assert held.status == Comment.Status.HELD
    first, second = moderators

    results = race_on_comment(
        held.pk,
        lambda row: comment_moderate(comment=row, moderator=first, action=ModerationAction.APPROVE),
        lambda row: comment_moderate(
            comment=row, moderator=second, action=ModerationAction.REMOVE, reason="spam"
        ),
    )

    winner = one_winner(results)
    held.refresh_from_db()
    expected = [Comment.Status.VISIBLE, Comment.Status.REMOVED][winner]
    assert held.status == expected
    assert audited(held) == [["comment.approved", "comment.removed"][winner]]


def test_a_moderators_remove_racing_the_authors_edit_has_exactly_one_winner(moderators, published_article):
    author = factories.make_commenter()
    comment = comment_post(user=author, article=published_article, body="What I first wrote")

    results = race_on_comment(
        comment.pk,
        lambda row: comment_moderate(
            comment=row, moderator=moderators[0], action=ModerationAction.REMOVE, reason="rude"
        ),
        lambda row: comment_edit(comment=row, user=author, body="What I meant to write"),
    )

    winner = one_winner(results)
    comment.refresh_from_db()
    if winner == 0:  # removed as the moderator read it; the edit was refused
        assert (comment.status, comment.body, comment.edited_at) == (
            Comment.Status.REMOVED,
            "What I first wrote",
            None,
        )
        assert audited(comment) == ["comment.removed"]
    else:  # edited; the moderator is asked to look at the new text first
        assert (comment.status, comment.body) == (Comment.Status.VISIBLE, "What I meant to write")
        assert audited(comment) == []


def test_a_moderators_remove_racing_the_authors_delete_has_exactly_one_winner(moderators, published_article):
    author = factories.make_commenter()
    comment = comment_post(user=author, article=published_article, body="Regrettable")

    results = race_on_comment(
        comment.pk,
        lambda row: comment_moderate(
            comment=row, moderator=moderators[0], action=ModerationAction.REMOVE, reason="rude"
        ),
        lambda row: comment_delete(comment=row, user=author),
    )

    winner = one_winner(results)
    comment.refresh_from_db()
    if winner == 0:  # removed; the author may no longer delete it
        assert (comment.status, comment.is_deleted, comment.body) == (
            Comment.Status.REMOVED,
            False,
            "Regrettable",
        )
        assert audited(comment) == ["comment.removed"]
    else:  # deleted by its author; nothing left for the moderator to remove
        assert (comment.status, comment.is_deleted, comment.body) == (Comment.Status.VISIBLE, True, "")
        assert audited(comment) == []


def test_a_flag_that_lands_while_a_moderator_approves_is_not_cleared(settings, moderators, published_article):
    settings.COMMENT_FLAG_HIDE_THRESHOLD = 5
    author, first_reader, second_reader = (factories.make_commenter() for _ in range(3))
    comment = comment_post(user=author, article=published_article, body="Contested claim")
    comment_flag(comment=comment, user=first_reader)
    flagged = threading.Event()

    def flag(row: Comment) -> bool:
        try:
            return comment_flag(comment=row, user=second_reader)
        finally:
            flagged.set()

    def approve(row: Comment) -> Moderation:
        flagged.wait(10)  # the moderator saw one flag; a second one has landed since
        return comment_moderate(comment=row, moderator=moderators[0], action=ModerationAction.APPROVE)

    flag_result, approve_result = race_on_comment(comment.pk, flag, approve)

    assert flag_result is True
    assert isinstance(approve_result, CommentRefused) and approve_result.status == 409, approve_result
    comment.refresh_from_db()
    assert (comment.flag_count, comment.status) == (2, Comment.Status.VISIBLE)
    assert audited(comment) == []
