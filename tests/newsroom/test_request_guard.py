"""newsroom/request_guard.py: NUL is refused and the other control characters are removed at
the edge, for every view that reads a query string or a form (ours, allauth's, the admin's).

On PostgreSQL a NUL that reached a query was a 500 (psycopg's DataError), so the search test
fails there on code without the guard; on SQLite the NUL went through and was stored."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import User
from comments.models import Comment
from newsletter import services as newsletter_services
from newsletter.models import Subscriber
from newsroom.request_guard import ControlCharacterGuardMiddleware
from tests import factories

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_passwords(fast_passwords):
    pass


def assert_refused_for_nul(response) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("Bad request: it contains a NUL character")


def test_a_nul_in_the_search_query_is_a_400_not_a_database_error(client, published_article):
    assert_refused_for_nul(client.get("/search/?q=%00"))


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=light%00rail",
        "/search/?q%00=rail",
        "/search/?q=rail&q=%00",
        "/?page=2%00",
        reverse("account_login") + "?next=/%00",
    ],
)
def test_a_nul_anywhere_in_the_query_string_is_refused(client, db, url):
    assert_refused_for_nul(client.get(url))


def test_a_nul_in_the_admin_search_is_refused(client, editor):
    client.force_login(editor)
    assert_refused_for_nul(client.get(reverse("admin:articles_article_changelist") + "?q=%00"))


@pytest.mark.parametrize("path", ["/search/%00/", "/articles/a%00b/", "/articles/a%01b/", "/%1b[2J/"])
def test_a_control_character_in_the_path_is_refused(client, db, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.content.decode().startswith("Bad request:")


def _comment(client: Client, commenter: User, article) -> tuple[str, dict]:
    client.force_login(commenter)
    return reverse("comments:post", args=[article.pk]), {"body": "Interesting\x00 article"}


def _profile(client: Client, commenter: User, article) -> tuple[str, dict]:
    client.force_login(commenter)
    return reverse("profile"), {"display_name": "Riley\x00", "notify_replies": "on"}


def _login(client: Client, commenter: User, article) -> tuple[str, dict]:
    return reverse("account_login"), {"login": commenter.email + "\x00", "password": PASSWORD}


def _signup(client: Client, commenter: User, article) -> tuple[str, dict]:
    return reverse("account_signup"), {
        "email": "new\x00@example.com",
        "password1": "a long and unusual passphrase 42",
        "password2": "a long and unusual passphrase 42",
    }


def _subscribe(client: Client, commenter: User, article) -> tuple[str, dict]:
    return reverse("newsletter_subscribe"), {"email": "digest@example.com", "topics": "\x00"}


def _preferences(client: Client, commenter: User, article) -> tuple[str, dict]:
    subscriber = factories.make_subscriber(email="prefs@example.com")
    token = newsletter_services.subscriber_token(subscriber=subscriber, purpose="manage")
    return reverse("newsletter_preferences", args=[token]), {
        "channel": "email",
        "send_hour": "9",
        "timezone": "Europe/Paris\x00",
    }


@pytest.mark.parametrize("form", [_comment, _profile, _login, _signup, _subscribe, _preferences])
def test_a_nul_in_any_form_is_refused_before_the_view_runs(client, commenter, published_article, form):
    url, data = form(client, commenter, published_article)
    assert_refused_for_nul(client.post(url, data))  # multipart, as the test client sends
    assert_refused_for_nul(
        client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")
    )
    commenter.refresh_from_db()
    assert commenter.display_name == "Riley Reader"
    assert not Comment.objects.exists()
    assert not User.objects.filter(email__startswith="new").exists()
    assert not Subscriber.objects.exclude(email="prefs@example.com").exists()
    assert not Subscriber.objects.filter(timezone__contains="Paris").exists()


def test_a_nul_in_a_form_field_name_is_refused(client, db):
    assert_refused_for_nul(client.post(reverse("newsletter_subscribe"), {"email\x00": "a@example.com"}))


def test_other_control_characters_are_removed_from_form_text(client, commenter, published_article):
    client.force_login(commenter)
    response = client.post(
        reverse("profile"), {"display_name": "Ri\x1bley\x07 R\x7feader", "notify_replies": ""}
    )
    assert response.status_code == 302
    commenter.refresh_from_db()
    assert commenter.display_name == "Riley Reader"

    body = "First\x1b[31m line\x0c\n\nSecond\tline\x08"
    client.post(reverse("comments:post", args=[published_article.pk]), {"body": body})
    # Tab, newline and carriage return are text; the escape, form feed, backspace are not.
    assert Comment.objects.get().body == "First[31m line\n\nSecond\tline"


def test_other_control_characters_are_removed_from_the_query_string(client, published_article):
    html = client.get("/search/?q=%07ra%1bil").content.decode()
    assert 'value="rail"' in html and "\x07" not in html and "\x1b" not in html


@pytest.mark.parametrize(
    "url", ["/api/v1/stories?source=%166", "/api/v1/articles?topic=transport%1b", "/api/v1/search?q=ra%07il"]
)
def test_a_control_character_in_an_api_query_is_refused_with_the_apis_json_error(client, db, url):
    # The API's parameters admit none (its OpenAPI patterns); removing it would answer a
    # different question than the one the program asked.
    response = client.get(url)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "message": "Bad request: the query string contains a control character.",
    }


def _guarded(request: HttpRequest) -> tuple[HttpResponse, dict]:
    seen: dict = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["body"] = request.body if request.content_type == "application/json" else None
        seen["files"] = {name: upload.read() for name, upload in request.FILES.items()}
        seen["post"] = dict(request.POST.lists())
        return HttpResponse("view ran")

    return ControlCharacterGuardMiddleware(view)(request), seen


def test_json_bodies_and_uploaded_files_are_left_to_the_view():
    factory = RequestFactory()
    response, seen = _guarded(
        factory.post("/hook/", data=b'{"text": "a\\u0000b\\u0001"}', content_type="application/json")
    )
    assert response.content == b"view ran" and b"\\u0000" in seen["body"]

    upload = SimpleUploadedFile("feeds.opml", b"<opml>\x00\x01</opml>", content_type="text/xml")
    response, seen = _guarded(factory.post("/upload/", data={"file": upload, "note": "x\x01y"}))
    assert response.content == b"view ran"
    assert seen["files"] == {"file": b"<opml>\x00\x01</opml>"} and seen["post"] == {"note": ["xy"]}


def test_a_form_full_of_control_characters_is_cleaned_well_under_a_second():
    # Close to DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), the most Django parses.
    value = "\x01a\x1b" * 800_000
    request = RequestFactory().post("/", data={"body": value})
    started = time.perf_counter()
    response, seen = _guarded(request)
    elapsed = time.perf_counter() - started
    assert response.content == b"view ran" and seen["post"] == {"body": ["a" * 800_000]}
    assert elapsed < 1.0


def test_the_guard_runs_before_anything_reads_a_parameter():
    # Straight after the page cache, which answers anonymous GETs by path without reading
    # parameters; everything that reads them (sessions, CSRF, allauth, views) comes later.
    stack = settings.MIDDLEWARE
    guard = stack.index("newsroom.request_guard.ControlCharacterGuardMiddleware")
    assert guard == stack.index("newsroom.pagecache.AnonymousPageCacheMiddleware") + 1
    assert guard < stack.index("django.contrib.sessions.middleware.SessionMiddleware")
