from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from articles.models import AuditEntry
from comments.models import Comment
from comments.services import comment_flag, comment_post
from tests.factories import make_commenter

CHANGELIST = reverse("admin:comments_comment_changelist")


@pytest.fixture
def thread(commenter, other_commenter, published_article):
    fine = comment_post(user=commenter, article=published_article, body="Fine comment")
    held = comment_post(user=make_commenter(age_days=0), article=published_article, body="Held comment")
    flagged = comment_post(user=other_commenter, article=published_article, body="Flagged comment")
    comment_flag(comment=flagged, user=commenter)
    return {"fine": fine, "held": held, "flagged": flagged}


def test_moderators_land_on_the_queue_of_held_and_flagged_comments(client, moderator, thread):
    client.force_login(moderator)
    html = client.get(CHANGELIST).content.decode()
    assert "Held comment" in html and "Flagged comment" in html
    assert "Fine comment" not in html
    assert "Fine comment" in client.get(CHANGELIST + "?review=").content.decode()


def test_a_moderator_approves_from_the_queue_and_it_is_audited(client, moderator, thread):
    client.force_login(moderator)
    held = thread["held"]
    response = client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [held.pk]})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == Comment.Status.VISIBLE
    entry = AuditEntry.objects.get(action="comment.approved")
    assert (entry.actor, entry.target_id) == (moderator, str(held.pk))


def test_removing_asks_for_a_reason_first(client, moderator, thread):
    client.force_login(moderator)
    flagged = thread["flagged"]
    asked = client.post(CHANGELIST, {"action": "remove", ACTION_CHECKBOX_NAME: [flagged.pk]})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.VISIBLE
    done = client.post(
        CHANGELIST, {"action": "remove", ACTION_CHECKBOX_NAME: [flagged.pk], "reason": "personal attack"}
    )
    assert done.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.status, flagged.status_reason) == (Comment.Status.REMOVED, "personal attack")
    assert AuditEntry.objects.get(action="comment.removed").reason == "personal attack"


def test_banning_an_author_removes_the_comment_and_stops_them_posting(
    client, moderator, thread, other_commenter
):
    client.force_login(moderator)
    flagged = thread["flagged"]
    client.post(CHANGELIST, {"action": "ban_author", ACTION_CHECKBOX_NAME: [flagged.pk], "reason": "spam"})
    other_commenter.refresh_from_db()
    assert other_commenter.is_banned
    assert AuditEntry.objects.filter(action="comment.author_banned", actor=moderator).count() == 1


def test_editors_can_read_comments_but_not_moderate(client, editor, thread):
    client.force_login(editor)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert 'value="approve"' not in page.content.decode()
    held = thread["held"]
    client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [held.pk]})
    held.refresh_from_db()
    assert held.status == Comment.Status.HELD


def test_other_staff_cannot_open_the_comment_admin(client, other_staff, thread):
    client.force_login(other_staff)
    assert client.get(CHANGELIST).status_code == 403


def test_approving_a_held_reply_from_the_queue_sends_the_reply_email_then(
    client, moderator, commenter, published_article, django_capture_on_commit_callbacks
):
    top = comment_post(user=commenter, article=published_article, body="Top")
    held = comment_post(user=make_commenter(age_days=0), article=published_article, body="held", parent=top)
    client.force_login(moderator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [held.pk]})
    assert [m.to for m in mail.outbox] == [[commenter.email]]


@override_settings(COMMENT_FLAG_HIDE_THRESHOLD=1)
def test_approving_a_reply_hidden_by_flags_does_not_email_twice(
    client, moderator, commenter, other_commenter, published_article, django_capture_on_commit_callbacks
):
    top = comment_post(user=commenter, article=published_article, body="Top")
    client.force_login(other_commenter)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("comments:post", args=[published_article.pk]), {"body": "reply", "parent": top.pk}
        )
    reply = Comment.objects.get(body="reply")
    comment_flag(comment=reply, user=commenter)
    assert reply.status == Comment.Status.HELD
    client.force_login(moderator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "approve", ACTION_CHECKBOX_NAME: [reply.pk]})
    reply.refresh_from_db()
    assert reply.status == Comment.Status.VISIBLE
    assert len(mail.outbox) == 1


@override_settings(COMMENT_FLAG_HIDE_THRESHOLD=1)
def test_a_comment_hidden_by_flags_waits_in_the_queue(
    client, moderator, commenter, other_commenter, published_article
):
    comment = comment_post(user=commenter, article=published_article, body="Contested")
    comment_flag(comment=comment, user=other_commenter)
    assert comment.status == Comment.Status.HELD
    client.force_login(moderator)
    assert "Contested" in client.get(CHANGELIST).content.decode()
    assert "Contested" not in client.get(published_article.get_absolute_url()).content.decode()
