"""accounts/cached_user.py: the logged-in user's row from the cache, exactly as fresh as the database.

Changes run inside `django_capture_on_commit_callbacks(execute=True)`, so the retiring that a
commit sets off really runs.
"""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.cached_user import _keys
from accounts.sessions import NOTE_PREFIX
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uncached_pages(settings):
    settings.PAGE_CACHE_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def riley(db):
    return factories.make_commenter(email="riley@example.com", display_name="Riley Reader")


def _home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _logged_in_as(html: str) -> str | None:
    marker = f'<a href="{reverse("profile")}">'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("</a>", 1)[0]


def test_a_logged_in_page_reads_the_user_from_the_database_once(client, riley):
    client.force_login(riley)
    with CaptureQueriesContext(connection) as first:
        assert _logged_in_as(_home(client)) == "Riley Reader"
    with CaptureQueriesContext(connection) as second:
        assert _logged_in_as(_home(client)) == "Riley Reader"
    assert any('FROM "accounts_user"' in q["sql"] for q in first.captured_queries)
    assert len(second) == 0, [q["sql"] for q in second.captured_queries]


def test_the_cached_user_holds_no_password_hash(client, riley):
    client.force_login(riley)
    _home(client)
    entry = cache.get(_keys(riley.pk)[0])
    assert entry is not None and entry["session_hash"]
    assert riley.password not in repr(entry)


def test_a_renamed_reader_sees_the_new_name_on_the_next_page(
    client, riley, django_capture_on_commit_callbacks
):
    client.force_login(riley)
    _home(client)
    with django_capture_on_commit_callbacks(execute=True):
        riley.display_name = "Riley Renamed"
        riley.save(update_fields=["display_name"])
    assert _logged_in_as(_home(client)) == "Riley Renamed"


def test_a_deactivated_reader_is_logged_out_at_once(client, riley, django_capture_on_commit_callbacks):
    client.force_login(riley)
    _home(client)
    with django_capture_on_commit_callbacks(execute=True):
        riley.is_active = False
        riley.save(update_fields=["is_active"])
    assert _logged_in_as(_home(client)) is None


def test_a_password_changed_in_another_session_logs_this_one_out(
    client, riley, django_capture_on_commit_callbacks
):
    client.force_login(riley)
    _home(client)
    with django_capture_on_commit_callbacks(execute=True):
        riley.set_password("a brand new password")
        riley.save(update_fields=["password"])
    assert _logged_in_as(_home(client)) is None


def test_a_banned_reader_is_refused_the_form_at_once(
    client, riley, published_article, django_capture_on_commit_callbacks
):
    client.force_login(riley)
    client.get(published_article.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        riley.is_banned = True
        riley.save(update_fields=["is_banned"])
    html = client.get(published_article.get_absolute_url()).content.decode()
    assert "Your account can no longer post comments." in html and 'id="comment-form"' not in html


@pytest.mark.parametrize("kept", [False, True], ids=["dropped", "in fallbacks"])
def test_a_rotated_secret_key_is_checked_by_django_again(client, riley, settings, kept):
    client.force_login(riley)
    _home(client)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = [old] if kept else []
    # The old key's snapshot is not read; Django keeps the session only with the old key kept.
    assert _logged_in_as(_home(client)) == ("Riley Reader" if kept else None)


redis_only = pytest.mark.skipif(not settings.REDIS_URL, reason="one round trip is the Redis session store's")


@redis_only
def test_on_redis_a_logged_in_page_reads_the_session_and_the_user_in_one_round_trip(
    client, riley, monkeypatch
):
    client.force_login(riley)
    _home(client)  # reads the user, stores the snapshot and the session's note of whose it is
    commands = []
    execute = redis.Redis.execute_command

    def counting(self, *args, **options):
        commands.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    assert _logged_in_as(_home(client)) == "Riley Reader"
    # The session with the user (one script) and the listing's fragment (one MGET): nothing else.
    assert sorted(commands) == ["EVALSHA", "MGET"]


@redis_only
def test_a_session_noted_as_another_readers_still_shows_its_own_reader(client, riley):
    sam = factories.make_commenter(email="sam@example.com", display_name="Sam Second")
    client.force_login(sam)
    _home(client)  # Sam's snapshot is in the cache
    client.force_login(riley)
    _home(client)
    cache.set(NOTE_PREFIX + client.session.session_key, sam.pk)
    assert _logged_in_as(_home(client)) == "Riley Reader"
    assert _logged_in_as(_home(client)) == "Riley Reader"
