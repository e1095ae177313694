from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, User
from accounts.services import api_token_create
from comments.models import Comment
from comments.services import comment_post

PASSWORD = "a long and unusual passphrase 42"


def sign_up(client: Client, email: str = "new@example.com") -> None:
    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def confirmation_link() -> str:
    match = re.search(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return urlsplit(match.group(0)).path


def test_sign_up_sends_a_verification_link_that_verifies_and_logs_in(client, db):
    sign_up(client)
    assert mail.outbox[-1].body.startswith("Hello from Newsroom!")
    user = User.objects.get(email="new@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert "_auth_user_id" not in client.session  # mandatory verification: not logged in yet
    link = confirmation_link()
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_login_page_wears_the_sites_look_and_has_no_social_buttons_when_unconfigured(client, db):
    html = client.get(reverse("account_login")).content.decode()
    assert '<header class="site-header">' in html
    assert "/static/css/site" in html
    assert "github" not in html.lower() and "google" not in html.lower()
    assert "csrfmiddlewaretoken" in html


def test_password_reset_sends_a_link_and_the_page_is_in_the_sites_look(client, reader):
    response = client.post(reverse("account_reset_password"), {"email": reader.email})
    assert response.status_code == 302
    assert "/accounts/password/reset/key/" in mail.outbox[-1].body
    assert '<header class="site-header">' in client.get(response["Location"]).content.decode()


def test_repeated_failed_logins_are_rate_limited_even_with_the_right_password(client, reader):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": reader.email, "password": "wrong"})
    response = client.post(
        reverse("account_login"), {"login": reader.email, "password": "correct horse battery"}
    )
    assert "_auth_user_id" not in client.session
    # The login form comes back with the refusal on it (not a bare error page).
    assert response.status_code == 200
    html = response.content.decode()
    assert "Too many failed login attempts" in html and 'name="password"' in html


def test_the_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("account_login")
    assert parse_qs(location.query)["next"] == ["/admin/"]


def test_a_logged_in_reader_without_staff_is_refused_by_the_admin(client, reader):
    client.force_login(reader)
    assert client.get("/admin/login/").status_code == 403


def _settings_in_subprocess(**env: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(sorted(settings.SOCIALACCOUNT_PROVIDERS))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GOOGLE_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "newsroom.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_social_login_switches_on_only_with_an_id_and_secret():
    assert _settings_in_subprocess().stdout.strip() == "[]"
    on = _settings_in_subprocess(GITHUB_CLIENT_ID="id", GITHUB_CLIENT_SECRET="secret")
    assert on.stdout.strip() == "['github']", on.stderr
    half = _settings_in_subprocess(GOOGLE_CLIENT_ID="id")
    assert half.returncode != 0 and "GOOGLE_CLIENT_SECRET" in half.stderr


def test_the_profile_saves_the_display_name_and_reply_setting(client, reader):
    client.force_login(reader)
    response = client.post(reverse("profile"), {"display_name": "Rae", "notify_replies": ""})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert (reader.display_name, reader.notify_replies) == ("Rae", False)
    assert "Your profile is saved." in client.get(reverse("profile")).content.decode()


def test_the_profile_lists_the_readers_own_comments_only(
    client, commenter, other_commenter, published_article
):
    comment_post(user=commenter, article=published_article, body="My own words")
    comment_post(user=other_commenter, article=published_article, body="Someone else's words")
    client.force_login(commenter)
    html = client.get(reverse("profile")).content.decode()
    assert "My own words" in html and "Someone else" not in html


def test_the_profile_needs_a_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_export_downloads_exactly_the_readers_data(client, commenter, other_commenter, published_article):
    mine = comment_post(user=commenter, article=published_article, body="Mine", ip="192.0.2.1")
    theirs = comment_post(user=other_commenter, article=published_article, body="Theirs")
    comment_post(user=other_commenter, article=published_article, body="A reply to me", parent=mine)
    client.force_login(commenter)
    assert client.get(reverse("profile_export")).status_code == 405  # POST only
    response = client.post(reverse("profile_export"))
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["email"] == commenter.email
    assert [c["id"] for c in data["comments"]] == [mine.pk]
    assert data["comments"][0]["body"] == "Mine" and data["comments"][0]["ip_address"] == "192.0.2.1"
    assert [e["email"] for e in data["email_addresses"]] == [commenter.email]
    assert other_commenter.email not in response.content.decode()
    assert "Theirs" not in response.content.decode() and "A reply to me" not in response.content.decode()
    assert theirs.pk not in [c["id"] for c in data["comments"]]


def test_deleting_the_account_needs_the_password(client, commenter):
    client.force_login(commenter)
    response = client.post(reverse("profile_delete"), {"confirmation": "wrong"})
    assert response.status_code == 200 and "does not match" in response.content.decode()
    assert User.objects.filter(pk=commenter.pk).exists()


def test_deleting_the_account_keeps_threads_and_removes_personal_data(
    client, commenter, other_commenter, published_article
):
    mine = comment_post(user=commenter, article=published_article, body="My opinion", ip="192.0.2.1")
    reply = comment_post(user=other_commenter, article=published_article, body="Good point", parent=mine)
    email = commenter.email
    client.force_login(commenter)
    response = client.post(reverse("profile_delete"), {"confirmation": "correct horse battery"})
    assert response.status_code == 200 and "Your account is deleted" in response.content.decode()
    assert not User.objects.filter(email=email).exists()
    assert not EmailAddress.objects.filter(email=email).exists()
    assert "_auth_user_id" not in client.session
    mine.refresh_from_db()
    assert (mine.author, mine.body, mine.body_html, mine.ip_address, mine.is_deleted) == (
        None,
        "",
        "",
        None,
        True,
    )
    assert Comment.objects.get(pk=reply.pk).parent_id == mine.pk
    html = Client().get(published_article.get_absolute_url()).content.decode()
    assert "[deleted]" in html and "Good point" in html
    assert "My opinion" not in html and "Riley" not in html and email not in html


def test_every_account_page_renders_in_the_sites_look(client, commenter):
    client.force_login(commenter)
    for name in ("account_email", "account_change_password", "account_logout", "profile", "profile_delete"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert '<header class="site-header">' in response.content.decode(), name
    client.logout()
    for name in ("account_login", "account_signup", "account_reset_password"):
        assert '<header class="site-header">' in client.get(reverse(name)).content.decode(), name


def test_logging_out_is_a_post_and_leaves_no_message_behind(client, commenter, published_article):
    client.force_login(commenter)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert not list(response.wsgi_request._messages)


def test_a_seeded_editor_marked_verified_logs_in_through_allauth_and_reaches_the_admin(client, editor):
    from accounts.services import user_mark_email_verified

    user_mark_email_verified(user=editor)
    user_mark_email_verified(user=editor)  # idempotent
    assert EmailAddress.objects.filter(user=editor, verified=True, primary=True).count() == 1
    response = client.post(
        reverse("account_login") + "?next=/admin/",
        {"login": editor.email, "password": "correct horse battery"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_sign_up_that_fills_the_honeypot_creates_no_account(client, db):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="website"' in page and 'class="hp"' in page and "style=" not in page
    client.post(
        reverse("account_signup"),
        {"email": "bot@example.com", "password1": PASSWORD, "password2": PASSWORD, "website": "http://spam"},
    )
    assert not User.objects.filter(email="bot@example.com").exists()
    assert mail.outbox == []


def _blocks_inside_phrasing(html: str) -> list[str]:
    """Each list or <div> that opens while a <p> or <span> is still open, as "p>span>ul"."""
    from html.parser import HTMLParser

    void = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    class Nesting(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag in ("ul", "ol", "div") and {"p", "span"} & set(self.open):
                self.found.append(">".join([*self.open[-2:], tag]))
            if tag not in void:
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in self.open:
                del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    parser = Nesting()
    parser.feed(html[html.index("<main") :])
    parser.close()
    return parser.found


def test_the_sign_up_and_password_forms_keep_their_help_lists_out_of_paragraphs(client, commenter):
    signup = client.get(reverse("account_signup")).content.decode()
    failed = client.post(reverse("account_signup"), {"email": "x", "password1": "1", "password2": "2"})
    assert "Your password must contain at least 8 characters." in signup
    assert _blocks_inside_phrasing(signup) == []
    assert _blocks_inside_phrasing(failed.content.decode()) == []
    # The password input still points at its help text.
    assert 'aria-describedby="id_password1_helptext"' in signup and 'id="id_password1_helptext"' in signup
    client.force_login(commenter)
    change = client.get(reverse("account_change_password")).content.decode()
    assert _blocks_inside_phrasing(change) == []


# --- API tokens on the profile page ---------------------------------------------------------


def test_a_reader_creates_an_api_token_on_their_profile_and_sees_it_once(client, reader):
    client.force_login(reader)
    assert "Create a token" in client.get(reverse("profile")).content.decode()

    response = client.post(reverse("api_token_new"), {"name": "My dashboard"})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'value="(nr_[^"]+)"', response.content.decode()).group(1)
    assert ApiToken.objects.find(secret).user == reader
    profile = client.get(reverse("profile")).content.decode()
    assert "My dashboard" in profile and secret not in profile  # shown once, then only its hint
    assert secret[:9] in profile
    # It works, and only the API sees it.
    assert client.get("/api/v1/topics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_a_reader_revokes_their_token_from_the_profile(client, reader):
    token, secret = api_token_create(user=reader, name="Old script")
    client.force_login(reader)

    response = client.post(reverse("api_token_revoke", args=[token.pk]))

    assert response.status_code == 302
    assert ApiToken.objects.find(secret) is None
    assert "Old script" not in client.get(reverse("profile")).content.decode()


def test_another_readers_token_cannot_be_revoked(client, reader, other_commenter):
    token, secret = api_token_create(user=other_commenter, name="Theirs")
    client.force_login(reader)

    client.post(reverse("api_token_revoke", args=[token.pk]))

    assert ApiToken.objects.find(secret) is not None


def test_token_pages_need_a_login_and_a_post(client, reader):
    assert client.post(reverse("api_token_new"), {"name": "x"}).status_code == 302  # to the login
    client.force_login(reader)
    assert client.get(reverse("api_token_new")).status_code == 405


def test_a_reader_at_the_token_limit_is_told_to_revoke_one(client, reader, settings):
    settings.API_TOKENS_PER_USER = 1
    api_token_create(user=reader, name="only")
    client.force_login(reader)

    response = client.post(reverse("api_token_new"), {"name": "another"})

    assert response.status_code == 400 and "revoke one" in response.content.decode()
