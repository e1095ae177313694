from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments.models import Comment
from comments.services import ModerationAction, comment_moderate, comment_post
from tests import factories
from tests.factories import make_commenter

JSON = {"HTTP_ACCEPT": "application/json"}


def post_url(article) -> str:
    return reverse("comments:post", args=[article.pk])


@pytest.fixture
def logged_in(client, commenter):
    client.force_login(commenter)
    return client


def test_anonymous_readers_see_the_empty_state_and_the_login_prompt(client, published_article):
    html = client.get(published_article.get_absolute_url()).content.decode()
    assert "No comments yet. Be the first to share your thoughts!" in html
    assert "Log in to join the discussion" in html
    assert "csrfmiddlewaretoken" not in html
    assert 'name="body"' not in html


def test_the_anonymous_page_is_identical_for_every_anonymous_reader(published_article, commenter):
    comment_post(user=commenter, article=published_article, body="Visible to all")
    first = Client().get(published_article.get_absolute_url()).content
    second = Client().get(published_article.get_absolute_url()).content
    assert first == second


def test_an_anonymous_post_redirects_to_login_and_stores_nothing(client, published_article):
    response = client.post(post_url(published_article), {"body": "Hello"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert Comment.objects.count() == 0


def test_an_unverified_reader_is_refused_with_a_message_and_nothing_stored(client, reader, published_article):
    client.force_login(reader)
    page = client.get(published_article.get_absolute_url()).content.decode()
    assert "verify your email address" in page
    response = client.post(post_url(published_article), {"body": "Hello"})
    assert response.status_code == 403
    assert "verify your email address" in response.content.decode()
    assert Comment.objects.count() == 0


def test_a_post_without_a_csrf_token_is_forbidden(commenter, published_article):
    client = Client(enforce_csrf_checks=True)
    client.force_login(commenter)
    response = client.post(post_url(published_article), {"body": "Hello"})
    assert response.status_code == 403
    assert Comment.objects.count() == 0


def test_a_form_post_redirects_to_the_new_comment_which_then_shows_on_the_page(logged_in, published_article):
    response = logged_in.post(post_url(published_article), {"body": "Nice **summary**"})
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{published_article.get_absolute_url()}#comment-{comment.pk}"
    html = logged_in.get(published_article.get_absolute_url()).content.decode()
    assert "<strong>summary</strong>" in html
    assert "Your comment is posted." in html
    assert "Riley Reader" in html


def test_a_javascript_post_gets_the_rendered_comment_back(logged_in, published_article):
    response = logged_in.post(post_url(published_article), {"body": "Via fetch"}, **JSON)
    assert response.status_code == 201
    data = response.json()
    assert data["parent"] is None
    assert f'id="comment-{data["id"]}"' in data["html"]
    assert "<p>Via fetch</p>" in data["html"]


def test_a_javascript_reply_names_its_parent(logged_in, other_commenter, published_article):
    top = comment_post(user=other_commenter, article=published_article, body="Top")
    response = logged_in.post(post_url(published_article), {"body": "Re", "parent": top.pk}, **JSON)
    assert response.status_code == 201
    assert response.json()["parent"] == top.pk


@override_settings(COMMENT_RATE_LIMIT_USER="5/m,50/d")
def test_the_sixth_post_in_a_minute_is_429_and_exactly_five_are_stored(logged_in, published_article):
    statuses = [
        logged_in.post(post_url(published_article), {"body": f"Comment number {n}"}).status_code
        for n in range(7)
    ]
    assert statuses == [302] * 5 + [429, 429]
    assert Comment.objects.count() == 5
    response = logged_in.post(post_url(published_article), {"body": "once more"}, **JSON)
    assert response.status_code == 429
    assert "too quickly" in response.json()["error"]


def test_the_honeypot_refuses_the_post(logged_in, published_article):
    response = logged_in.post(post_url(published_article), {"body": "Buy now", "website": "http://spam"})
    assert response.status_code == 400
    assert Comment.objects.count() == 0


def test_a_refused_form_post_keeps_the_readers_text(logged_in, published_article):
    response = logged_in.post(post_url(published_article), {"body": "x" * 5001})
    assert response.status_code == 400
    assert "x" * 5001 in response.content.decode()


def test_commenting_on_an_unpublished_article_is_not_found(logged_in):
    article = factories.make_article(status=Article.Status.IN_REVIEW)
    response = logged_in.post(post_url(article), {"body": "Early"})
    assert response.status_code == 404
    assert Comment.objects.count() == 0


def test_replying_to_a_removed_comment_is_refused(logged_in, other_commenter, moderator, published_article):
    top = comment_post(user=other_commenter, article=published_article, body="Rude")
    comment_moderate(comment=top, moderator=moderator, action=ModerationAction.REMOVE, reason="rude")
    response = logged_in.post(post_url(published_article), {"body": "Reply", "parent": top.pk})
    assert response.status_code == 400
    assert Comment.objects.count() == 1


def test_editing_someone_elses_comment_is_forbidden(logged_in, other_commenter, published_article):
    theirs = comment_post(user=other_commenter, article=published_article, body="Theirs")
    edit = reverse("comments:edit", args=[theirs.pk])
    assert logged_in.get(edit).status_code == 403
    assert logged_in.post(edit, {"body": "Mine now"}).status_code == 403
    assert logged_in.post(reverse("comments:delete", args=[theirs.pk])).status_code == 403
    theirs.refresh_from_db()
    assert (theirs.body, theirs.is_deleted) == ("Theirs", False)


def test_editing_after_the_window_is_refused(logged_in, commenter, published_article):
    mine = comment_post(user=commenter, article=published_article, body="Old")
    Comment.objects.filter(pk=mine.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    response = logged_in.post(reverse("comments:edit", args=[mine.pk]), {"body": "New"})
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.body == "Old"


def test_an_edit_within_the_window_shows_edited(logged_in, commenter, published_article):
    mine = comment_post(user=commenter, article=published_article, body="Old")
    response = logged_in.post(reverse("comments:edit", args=[mine.pk]), {"body": "New"})
    assert response.status_code == 302
    html = logged_in.get(published_article.get_absolute_url()).content.decode()
    assert '<span class="edited">edited</span>' in html
    assert "<p>New</p>" in html


def test_a_deleted_comment_with_replies_shows_deleted_and_the_replies_stay(
    logged_in, commenter, other_commenter, published_article
):
    mine = comment_post(user=commenter, article=published_article, body="Soon gone")
    comment_post(user=other_commenter, article=published_article, body="Still here", parent=mine)
    lonely = comment_post(user=commenter, article=published_article, body="Also gone")
    for comment in (mine, lonely):
        assert logged_in.post(reverse("comments:delete", args=[comment.pk])).status_code == 302
    html = Client().get(published_article.get_absolute_url()).content.decode()
    assert "Soon gone" not in html and "Also gone" not in html
    assert html.count("[deleted]") == 1  # the lonely one disappears entirely
    assert "Still here" in html


def test_a_flag_is_counted_once_per_reader(logged_in, other_commenter, published_article):
    theirs = comment_post(user=other_commenter, article=published_article, body="Hmm")
    flag = reverse("comments:flag", args=[theirs.pk])
    assert logged_in.post(flag).status_code == 302
    assert logged_in.post(flag, **JSON).json()["message"] == "You already flagged this."
    theirs.refresh_from_db()
    assert theirs.flag_count == 1
    assert "Flagged" in logged_in.get(published_article.get_absolute_url()).content.decode()


def test_a_reply_emails_the_parent_author_once(
    client, commenter, other_commenter, published_article, django_capture_on_commit_callbacks
):
    top = comment_post(user=commenter, article=published_article, body="Top")
    client.force_login(other_commenter)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(post_url(published_article), {"body": "A reply to you", "parent": top.pk})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [commenter.email]
    assert "Olive Other replied" in message.subject
    assert "A reply to you" in message.body
    assert f"#comment-{top.replies.get().pk}" in message.body


def test_no_reply_email_when_notifications_are_off_or_replying_to_oneself(
    client, commenter, other_commenter, published_article, django_capture_on_commit_callbacks
):
    top = comment_post(user=commenter, article=published_article, body="Top")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.force_login(commenter)
        client.post(post_url(published_article), {"body": "Replying to myself", "parent": top.pk})
        commenter.notify_replies = False
        commenter.save()
        client.force_login(other_commenter)
        client.post(post_url(published_article), {"body": "Reply", "parent": top.pk})
    # Only the notification callbacks: the page cache also invalidates on commit.
    notifications = [c for c in callbacks if "notify_reply" in repr(c)]
    assert len(notifications) == 2  # both replies queued a notification; neither was sent
    assert mail.outbox == []


def test_a_held_reply_sends_no_email(
    client, commenter, published_article, django_capture_on_commit_callbacks
):
    top = comment_post(user=commenter, article=published_article, body="Top")
    client.force_login(make_commenter(age_days=0))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(post_url(published_article), {"body": "held reply", "parent": top.pk})
    assert Comment.objects.get(body="held reply").status == Comment.Status.HELD
    assert not [c for c in callbacks if "notify_reply" in repr(c)]
    assert mail.outbox == []


def test_a_held_comment_is_shown_only_to_its_author(client, published_article):
    newcomer = make_commenter(age_days=0, display_name="Nina Newcomer")
    comment_post(user=newcomer, article=published_article, body="Waiting for review")
    assert "Waiting for review" not in Client().get(published_article.get_absolute_url()).content.decode()
    client.force_login(newcomer)
    html = client.get(published_article.get_absolute_url()).content.decode()
    assert "Waiting for review" in html and "awaiting moderation" in html


def test_a_comment_on_a_claim_links_to_that_claim(logged_in, published_article):
    logged_in.post(
        post_url(published_article),
        {"body": "Wrong day", "claim": "kp:0", "reports_wrong_claim": "on"},
    )
    html = logged_in.get(published_article.get_absolute_url()).content.decode()
    assert 'href="#kp-0"' in html
    assert "Reported as wrong:" in html
    assert "The council voted to build a light-rail line." in html


def test_logged_in_pages_are_never_cacheable(logged_in, commenter, published_article):
    mine = comment_post(user=commenter, article=published_article, body="Mine")
    for url in (reverse("profile"), reverse("comments:edit", args=[mine.pk])):
        assert "no-store" in logged_in.get(url)["Cache-Control"]


@pytest.mark.parametrize("who", ["anonymous", "commenter"])
def test_the_article_page_stays_within_ten_queries_with_hundreds_of_comments(
    client, commenter, other_commenter, published_article, django_assert_max_num_queries, who
):
    # Three hundred comments from twenty authors, threaded three deep, some held or deleted.
    authors = [make_commenter() for _ in range(20)]
    rows = []
    for n in range(100):
        rows.append(
            Comment(article=published_article, author=authors[n % 20], body=f"c{n}", body_html=f"<p>c{n}</p>")
        )
    Comment.objects.bulk_create(rows)
    parents = list(Comment.objects.filter(article=published_article))
    replies = [
        Comment(
            article=published_article,
            author=authors[(n + 1) % 20],
            parent=p,
            depth=1,
            body="r",
            body_html="<p>r</p>",
            status=Comment.Status.HELD if n % 10 == 0 else Comment.Status.VISIBLE,
        )
        for n, p in enumerate(parents)
    ]
    Comment.objects.bulk_create(replies)
    second = list(Comment.objects.filter(article=published_article, depth=1))
    Comment.objects.bulk_create(
        Comment(
            article=published_article, author=authors[3], parent=p, depth=2, body="rr", body_html="<p>rr</p>"
        )
        for p in second
    )
    assert Comment.objects.filter(article=published_article).count() == 300
    if who == "commenter":
        client.force_login(commenter)
    # The reader site's queries (with the story's timeline and follow-ups), one for the whole
    # discussion, and on a session's first request the reader's user row: never per comment.
    with django_assert_max_num_queries(10):
        response = client.get(published_article.get_absolute_url())
    assert response.status_code == 200
    assert response.content.decode().count('class="comment') >= 280


def test_without_javascript_reply_opens_a_reply_page_that_posts_the_reply(
    logged_in, other_commenter, published_article
):
    top = comment_post(user=other_commenter, article=published_article, body="Top")
    page = logged_in.get(reverse("comments:reply", args=[top.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'name="parent" value="{top.pk}"' in html and "<p>Top</p>" in html
    logged_in.post(post_url(published_article), {"body": "Answer", "parent": top.pk})
    assert Comment.objects.get(body="Answer").parent == top


def test_the_reply_page_refuses_removed_comments_and_unverified_readers(
    logged_in, other_commenter, moderator, published_article
):
    top = comment_post(user=other_commenter, article=published_article, body="Top")
    removed = comment_post(user=other_commenter, article=published_article, body="Gone")
    comment_moderate(comment=removed, moderator=moderator, action=ModerationAction.REMOVE, reason="off topic")
    assert logged_in.get(reverse("comments:reply", args=[removed.pk])).status_code == 403
    unverified = Client()
    unverified.force_login(factories.make_user())
    response = unverified.get(reverse("comments:reply", args=[top.pk]))
    assert response.status_code == 403 and "verify your email" in response.content.decode()


def test_the_edit_page_is_refused_after_the_window(logged_in, commenter, published_article):
    mine = comment_post(user=commenter, article=published_article, body="Old")
    assert logged_in.get(reverse("comments:edit", args=[mine.pk])).status_code == 200
    Comment.objects.filter(pk=mine.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    response = logged_in.get(reverse("comments:edit", args=[mine.pk]))
    assert response.status_code == 403 and "15 minutes" in response.content.decode()
    assert "<textarea" not in response.content.decode()


def test_a_claim_link_opens_the_form_with_that_claim_chosen(logged_in, published_article):
    from django.template import Context, Template

    link = Template('{% load comments_tags %}{% claim_comment_link "faq:0" %}').render(Context())
    assert 'href="?claim=faq%3A0#discussion"' in link
    html = logged_in.get(published_article.get_absolute_url() + "?claim=faq:0").content.decode()
    assert '<option value="faq:0" selected>' in html
