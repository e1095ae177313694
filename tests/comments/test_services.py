from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from articles.models import Article, AuditEntry
from comments.models import Comment, CommentFlag
from comments.services import (
    CommentRefused,
    ModerationAction,
    comment_delete,
    comment_edit,
    comment_flag,
    comment_moderate,
    comment_post,
)
from tests import factories
from tests.factories import make_commenter


def post(user, article, body="A thoughtful remark.", **kwargs):
    return comment_post(user=user, article=article, body=body, **kwargs)


def test_a_verified_reader_posts_a_visible_comment_with_rendered_markdown(commenter, published_article):
    comment = post(commenter, published_article, "This is *really* useful, see `code`.", ip="10.0.0.1")
    assert comment.status == Comment.Status.VISIBLE
    assert comment.body_html == "<p>This is <em>really</em> useful, see <code>code</code>.</p>\n"
    assert comment.ip_address == "10.0.0.1"


def test_an_unverified_reader_is_refused(reader, published_article):
    with pytest.raises(CommentRefused, match="verify your email"):
        post(reader, published_article)
    assert Comment.objects.count() == 0


def test_a_banned_reader_is_refused(commenter, published_article):
    commenter.is_banned = True
    commenter.save()
    with pytest.raises(CommentRefused, match="can no longer post"):
        post(commenter, published_article)
    assert Comment.objects.count() == 0


@pytest.mark.parametrize("body", ["", "   ", "\n\t \n", "\u200b\u200b", "\x00"])
def test_empty_or_whitespace_bodies_are_refused(commenter, published_article, body):
    with pytest.raises(CommentRefused, match="write something"):
        post(commenter, published_article, body)


def test_a_body_over_5000_characters_is_refused_and_5000_is_accepted(commenter, published_article):
    with pytest.raises(CommentRefused, match="5000"):
        post(commenter, published_article, "x" * 5001)
    assert post(commenter, published_article, "y" * 5000).body == "y" * 5000


def test_commenting_on_an_unpublished_article_is_refused(commenter):
    article = factories.make_article(status=Article.Status.IN_REVIEW)
    with pytest.raises(CommentRefused, match="not open"):
        post(commenter, article)


def test_the_same_body_twice_from_one_user_is_refused_even_with_other_spacing(commenter, published_article):
    post(commenter, published_article, "Great  piece")
    with pytest.raises(CommentRefused, match="already posted"):
        post(commenter, published_article, "great piece ")
    assert Comment.objects.count() == 1


def test_two_users_may_post_the_same_words(commenter, other_commenter, published_article):
    post(commenter, published_article, "Agreed.")
    post(other_commenter, published_article, "Agreed.")
    assert Comment.objects.count() == 2


def test_comments_from_a_day_old_account_are_held(published_article):
    newcomer = make_commenter()
    newcomer.date_joined = timezone.now() - timedelta(hours=3)
    newcomer.save()
    comment = post(newcomer, published_article)
    assert comment.status == Comment.Status.HELD
    assert comment.status_reason == "new account"


def test_comments_with_more_than_two_links_are_held_and_two_are_not(commenter, published_article):
    two = post(commenter, published_article, "[a](https://a.example) and https://b.example")
    three = post(commenter, published_article, "[a](https://a.example) https://b.example www.c.example")
    assert two.status == Comment.Status.VISIBLE
    assert three.status == Comment.Status.HELD


def test_replies_nest_three_levels_and_no_deeper(commenter, other_commenter, published_article):
    top = post(commenter, published_article, "level one")
    second = post(other_commenter, published_article, "level two", parent=top)
    third = post(commenter, published_article, "level three", parent=second)
    assert (top.depth, second.depth, third.depth) == (0, 1, 2)
    with pytest.raises(CommentRefused, match="as deep"):
        post(other_commenter, published_article, "level four", parent=third)


def test_replying_to_a_removed_or_deleted_comment_is_refused(
    commenter, other_commenter, moderator, published_article
):
    removed = post(commenter, published_article, "to be removed")
    comment_moderate(comment=removed, moderator=moderator, action=ModerationAction.REMOVE, reason="spam")
    deleted = post(commenter, published_article, "to be deleted")
    comment_delete(comment=deleted, user=commenter)
    for parent in (removed, deleted):
        with pytest.raises(CommentRefused, match="no longer be replied"):
            post(other_commenter, published_article, f"reply to {parent.pk}", parent=parent)
    assert Comment.objects.filter(parent__isnull=False).count() == 0


def test_replying_across_articles_is_refused(commenter, other_commenter, published_article):
    elsewhere = post(commenter, factories.make_published_article())
    with pytest.raises(CommentRefused, match="same article"):
        post(other_commenter, published_article, parent=elsewhere)


@override_settings(COMMENT_RATE_LIMIT_USER="3/m,5/d", COMMENT_RATE_LIMIT_IP="100/m")
def test_the_per_user_limit_stores_exactly_the_allowed_number(commenter, published_article):
    for n in range(3):
        post(commenter, published_article, f"comment {n}")
    with pytest.raises(CommentRefused) as refused:
        post(commenter, published_article, "comment 4")
    assert refused.value.status == 429
    assert "too quickly" in str(refused.value)
    assert Comment.objects.filter(author=commenter).count() == 3


@override_settings(COMMENT_RATE_LIMIT_USER="100/m", COMMENT_RATE_LIMIT_IP="2/m")
def test_the_per_ip_limit_covers_several_accounts_on_one_address(
    commenter, other_commenter, published_article
):
    post(commenter, published_article, "one", ip="203.0.113.9")
    post(other_commenter, published_article, "two", ip="203.0.113.9")
    with pytest.raises(CommentRefused, match="too quickly"):
        post(other_commenter, published_article, "three", ip="203.0.113.9")
    post(other_commenter, published_article, "from elsewhere", ip="203.0.113.10")
    assert Comment.objects.count() == 3


def test_refused_posts_do_not_use_up_the_rate_limit(commenter, published_article):
    for _ in range(10):
        with pytest.raises(CommentRefused):
            post(commenter, published_article, "   ")
    post(commenter, published_article, "finally something")
    assert Comment.objects.count() == 1


def test_the_author_edits_within_the_window_and_it_shows_edited(commenter, published_article):
    comment = post(commenter, published_article, "Frist")
    comment_edit(comment=comment, user=commenter, body="First **edit**")
    comment.refresh_from_db()
    assert comment.edited_at is not None
    assert comment.body_html == "<p>First <strong>edit</strong></p>\n"


def test_editing_after_fifteen_minutes_is_refused(commenter, published_article):
    comment = post(commenter, published_article, "Original")
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    comment.refresh_from_db()
    with pytest.raises(CommentRefused, match="15 minutes"):
        comment_edit(comment=comment, user=commenter, body="Changed")
    comment.refresh_from_db()
    assert comment.body == "Original"


def test_editing_someone_elses_comment_is_refused(commenter, other_commenter, published_article):
    comment = post(commenter, published_article, "Mine")
    with pytest.raises(CommentRefused, match="your own"):
        comment_edit(comment=comment, user=other_commenter, body="Hijacked")
    with pytest.raises(CommentRefused, match="your own"):
        comment_delete(comment=comment, user=other_commenter)
    comment.refresh_from_db()
    assert (comment.body, comment.is_deleted) == ("Mine", False)


def test_an_edit_adding_many_links_holds_the_comment_again(commenter, published_article):
    comment = post(commenter, published_article, "Plain")
    comment_edit(
        comment=comment, user=commenter, body="https://a.example https://b.example https://c.example"
    )
    assert comment.status == Comment.Status.HELD


def test_deleting_blanks_the_text_but_keeps_the_row_for_replies(
    commenter, other_commenter, published_article
):
    top = post(commenter, published_article, "Parent text")
    reply = post(other_commenter, published_article, "Reply", parent=top)
    comment_delete(comment=top, user=commenter)
    top.refresh_from_db()
    assert (top.is_deleted, top.body, top.body_html) == (True, "", "")
    assert Comment.objects.get(pk=reply.pk).parent_id == top.pk


@override_settings(COMMENT_FLAG_HIDE_THRESHOLD=2)
def test_each_reader_flags_once_and_enough_flags_hide_the_comment(
    commenter, other_commenter, published_article
):
    comment = post(commenter, published_article)
    third = make_commenter()
    assert comment_flag(comment=comment, user=other_commenter) is True
    assert comment_flag(comment=comment, user=other_commenter) is False
    assert (comment.flag_count, comment.status) == (1, Comment.Status.VISIBLE)
    comment_flag(comment=comment, user=third)
    assert (comment.flag_count, comment.status) == (2, Comment.Status.HELD)
    assert CommentFlag.objects.filter(comment=comment).count() == 2


def test_flagging_ones_own_comment_is_refused(commenter, published_article):
    comment = post(commenter, published_article)
    with pytest.raises(CommentRefused, match="own comment"):
        comment_flag(comment=comment, user=commenter)


def test_reporting_a_wrong_claim_puts_the_article_in_the_review_queue_with_the_quote(
    commenter, published_article
):
    comment = post(
        commenter, published_article, "The vote was on Monday.", claim="kp:0", reports_wrong_claim=True
    )
    published_article.refresh_from_db()
    assert published_article.needs_attention is True
    entry = AuditEntry.objects.get(action="claim.reported")
    assert entry.article == published_article
    assert (entry.target_type, entry.target_id) == ("comments.comment", str(comment.pk))
    assert entry.details["claim"] == "kp:0"
    assert entry.details["quoted_claim"] == "What happened: The council voted to build a light-rail line."
    assert entry.actor == commenter


def test_a_comment_on_an_faq_answer_quotes_it_without_raising_attention(commenter, published_article):
    comment = post(commenter, published_article, "Is that in today's money?", claim="faq:0")
    assert comment.claim == "faq:0"
    published_article.refresh_from_db()
    assert published_article.needs_attention is False
    assert not AuditEntry.objects.filter(action="claim.reported").exists()


@pytest.mark.parametrize("claim", ["kp:3", "faq:1", "kp:-1", "title", "kp:0; DROP"])
def test_a_claim_that_does_not_exist_is_refused(commenter, published_article, claim):
    with pytest.raises(CommentRefused):
        post(commenter, published_article, claim=claim, reports_wrong_claim=True)
    published_article.refresh_from_db()
    assert published_article.needs_attention is False


def test_moderation_decisions_are_audited_and_banning_stops_posting(commenter, moderator, published_article):
    held = post(commenter, published_article, "one https://a.x https://b.x https://c.x")
    comment_moderate(comment=held, moderator=moderator, action=ModerationAction.APPROVE)
    assert held.status == Comment.Status.VISIBLE
    with pytest.raises(CommentRefused, match="reason"):
        comment_moderate(comment=held, moderator=moderator, action=ModerationAction.REMOVE)
    comment_moderate(comment=held, moderator=moderator, action=ModerationAction.BAN, reason="spam links")
    commenter.refresh_from_db()
    assert commenter.is_banned is True
    assert held.status == Comment.Status.REMOVED and held.status_reason == "spam links"
    actions = list(
        AuditEntry.objects.filter(target_id=str(held.pk))
        .order_by("id")
        .values_list("action", "actor", "reason")
    )
    assert actions == [
        ("comment.approved", moderator.pk, ""),
        ("comment.removed", moderator.pk, "spam links"),
        ("comment.author_banned", moderator.pk, "spam links"),
    ]
    with pytest.raises(CommentRefused, match="can no longer post"):
        post(commenter, published_article, "I'm back")


def test_a_visible_reply_is_a_public_reply_and_a_held_one_is_not(
    commenter, other_commenter, published_article, django_capture_on_commit_callbacks
):
    top = post(commenter, published_article, "Top")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        visible = post(other_commenter, published_article, "A reply to you", parent=top)
        held = post(make_commenter(age_days=0), published_article, "held reply", parent=top)
    assert (top.is_public_reply, visible.is_public_reply, held.is_public_reply) == (False, True, False)
    # The service queues nothing: the view (or the admin) queues the notification.
    assert not [c for c in callbacks if "notify_reply" in repr(c)]
    assert mail.outbox == []


def test_comment_services_never_import_tasks():
    import ast
    import inspect

    from comments import services

    tree = ast.parse(inspect.getsource(services))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name and name.split(".")[-1] == "tasks"}


@override_settings(
    COMMENT_RATE_LIMIT_USER="1/m", COMMENT_RATE_LIMITS_DISABLED=True, COMMENT_HOLD_NEW_ACCOUNTS=False
)
def test_the_load_test_switches_lift_the_limits_and_the_new_account_hold(published_article):
    newcomer = make_commenter(age_days=0)
    comments = [post(newcomer, published_article, f"quick {n}") for n in range(3)]
    assert [c.status for c in comments] == [Comment.Status.VISIBLE] * 3


def test_approving_a_reply_held_on_arrival_asks_for_the_reply_email_then(
    commenter, moderator, published_article
):
    top = post(commenter, published_article, "Top")
    held = post(make_commenter(age_days=0), published_article, "held reply", parent=top)
    outcome = comment_moderate(comment=held, moderator=moderator, action=ModerationAction.APPROVE)
    assert (outcome.comment, outcome.notify_reply) == (held, True)
    assert mail.outbox == []  # the caller queues it


@override_settings(COMMENT_FLAG_HIDE_THRESHOLD=1)
def test_approving_a_reply_hidden_by_flags_does_not_ask_for_a_second_email(
    commenter, other_commenter, moderator, published_article
):
    top = post(commenter, published_article, "Top")
    reply = post(other_commenter, published_article, "reply", parent=top)
    comment_flag(comment=reply, user=commenter)
    assert reply.status == Comment.Status.HELD
    outcome = comment_moderate(comment=reply, moderator=moderator, action=ModerationAction.APPROVE)
    assert outcome.comment.status == Comment.Status.VISIBLE and outcome.notify_reply is False


# --- Decisions from a stale copy ----------------------------------------------------------


def test_approving_from_a_copy_read_before_another_moderator_removed_it_is_refused(
    commenter, moderator, published_article
):
    held = post(make_commenter(age_days=0), published_article, "Please approve me")
    stale = Comment.objects.get(pk=held.pk)
    comment_moderate(comment=held, moderator=moderator, action=ModerationAction.REMOVE, reason="spam")
    with pytest.raises(CommentRefused, match="changed after you opened it") as refused:
        comment_moderate(comment=stale, moderator=moderator, action=ModerationAction.APPROVE)
    assert refused.value.status == 409
    held.refresh_from_db()
    assert held.status == Comment.Status.REMOVED
    assert list(AuditEntry.objects.filter(target_id=str(held.pk)).values_list("action", flat=True)) == [
        "comment.removed"
    ]


def test_removing_a_comment_its_author_edited_since_the_moderator_looked_is_refused(
    commenter, moderator, published_article
):
    comment = post(commenter, published_article, "Original words")
    seen_by_moderator = Comment.objects.get(pk=comment.pk)
    comment_edit(comment=comment, user=commenter, body="Different words")
    with pytest.raises(CommentRefused, match="changed after you opened it"):
        comment_moderate(
            comment=seen_by_moderator, moderator=moderator, action=ModerationAction.REMOVE, reason="rude"
        )
    comment.refresh_from_db()
    assert (comment.status, comment.body) == (Comment.Status.VISIBLE, "Different words")


@pytest.mark.parametrize("change", ["edit", "delete"])
def test_an_author_cannot_change_a_comment_removed_since_their_page_loaded(
    commenter, moderator, published_article, change
):
    comment = post(commenter, published_article, "Original words")
    authors_copy = Comment.objects.get(pk=comment.pk)
    comment_moderate(comment=comment, moderator=moderator, action=ModerationAction.REMOVE, reason="rude")
    with pytest.raises(CommentRefused, match="has been removed"):
        if change == "edit":
            comment_edit(comment=authors_copy, user=commenter, body="Nicer words")
        else:
            comment_delete(comment=authors_copy, user=commenter)
    comment.refresh_from_db()
    assert (comment.status, comment.body, comment.is_deleted) == (
        Comment.Status.REMOVED,
        "Original words",
        False,
    )


def test_approving_does_not_clear_a_flag_that_came_in_after_the_moderator_looked(
    commenter, other_commenter, moderator, published_article
):
    comment = post(commenter, published_article)
    comment_flag(comment=comment, user=other_commenter)
    seen_by_moderator = Comment.objects.get(pk=comment.pk)
    comment_flag(comment=comment, user=make_commenter())
    with pytest.raises(CommentRefused, match="changed after you opened it"):
        comment_moderate(comment=seen_by_moderator, moderator=moderator, action=ModerationAction.APPROVE)
    comment.refresh_from_db()
    assert comment.flag_count == 2
    # Looking again and approving clears both.
    comment_moderate(comment=comment, moderator=moderator, action=ModerationAction.APPROVE)
    assert Comment.objects.get(pk=comment.pk).flag_count == 0


def test_a_removed_comment_cannot_be_held():
    comment = Comment(status=Comment.Status.REMOVED)
    with pytest.raises(ValueError, match="cannot go from"):
        comment.transition_to(Comment.Status.HELD)


def test_a_moderators_removal_clears_the_cached_article_page(
    client, commenter, moderator, published_article, django_capture_on_commit_callbacks
):
    comment = post(commenter, published_article, "Soon to be removed")
    url = published_article.get_absolute_url()
    assert "Soon to be removed" in client.get(url).content.decode()
    assert client.get(url)["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        comment_moderate(comment=comment, moderator=moderator, action=ModerationAction.REMOVE, reason="rude")
    response = client.get(url)
    assert response["X-Page-Cache"] == "miss"
    assert "Soon to be removed" not in response.content.decode()
