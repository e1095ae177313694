"""The logged-in user's row from the cache, so a logged-in page costs no query for it (issue #16).

Django's AuthenticationMiddleware reads the user from the database on every request; for a
reader whose page is otherwise assembled from stored fragments that query was the largest part
of the page. Here the row is kept in the "default" cache as a snapshot, validated as pages and
fragments are (newsroom/pagecache.py): a per-user generation is read before the row, and a saved
or deleted user bumps it when the change commits, so a snapshot built from a row that a change
overtook is never served. On Redis the session, the snapshot and the generation are read in one
cache round trip (accounts/sessions.py, the session engine); elsewhere the snapshot and the
generation are one round trip after the session's own.

A snapshot is served only on Django's success path, checked the same way: the session names a
configured backend and carries an auth hash equal to the snapshot's (computed from the password
with the current SECRET_KEY, which is part of the snapshot's key, so rotating the secret retires
every snapshot), and the user was active when the snapshot was taken (deactivating saves the
user). Everything else (no snapshot, a hash that only a fallback secret verifies, a session to
flush) goes to Django's own get_user(), and a user it returns is stored for the next request.

The snapshot holds no password hash: the password is left deferred and loaded if something asks
for it (changing the password). Writes through QuerySet.update() send no signal, so they are not
seen until the snapshot expires; nothing that serves readers updates users that way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

logger = logging.getLogger(__name__)

SNAPSHOT_PREFIX = "user:snapshot:"
GENERATION_PREFIX = "user:generation:"
# An idle reader's snapshot goes after an hour; their next request reads the row again.
SNAPSHOT_SECONDS = 3600
_UNREAD = object()


@lru_cache(maxsize=4)
def _secret_tag(secret_key: str) -> str:
    return hashlib.blake2b(secret_key.encode(), digest_size=8).hexdigest()


def key_prefixes() -> tuple[str, str]:
    """The snapshot's and the generation's keys without the user's id, which ends each."""
    return f"{SNAPSHOT_PREFIX}{_secret_tag(settings.SECRET_KEY)}:", GENERATION_PREFIX


def _keys(pk: Any) -> tuple[str, str]:
    snapshot, generation = key_prefixes()
    return f"{snapshot}{pk}", f"{generation}{pk}"


@lru_cache(maxsize=1)
def _fields() -> tuple[str, ...]:
    """Every column of the user but the password."""
    return tuple(f.attname for f in get_user_model()._meta.concrete_fields if f.attname != "password")


def _from_snapshot(request: HttpRequest) -> Any | None:
    """The session's user from its snapshot, or None; remembers the generation it read."""
    session = request.session
    user_id = session.get(SESSION_KEY)
    session_hash = session.get(HASH_SESSION_KEY)
    if (
        not user_id
        or not session_hash
        or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS
    ):
        return None
    User = get_user_model()  # noqa: N806
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    prefetched = getattr(session, "prefetched_user", None)
    if prefetched is not None and prefetched[0] == str(pk):
        # Read with the session, by its note of whose it is (accounts/sessions.py).
        entry, generation = prefetched[1], prefetched[2]
    else:
        snapshot_key, generation_key = _keys(pk)
        try:
            found = cache.get_many([snapshot_key, generation_key])
        except Exception:
            logger.exception("User cache unavailable; reading the user from the database")
            return None
        generation, entry = found.get(generation_key), found.get(snapshot_key)
        if note_user := getattr(session, "note_user", None):
            note_user(pk)  # the next request reads all of it with the session
    request._user_generation = (pk, generation)
    if (
        entry is None
        or generation is None
        or entry["generation"] != generation
        or not constant_time_compare(session_hash, entry["session_hash"])
    ):
        return None
    return User.from_db(DEFAULT_DB_ALIAS, _fields(), entry["values"])


def _from_database(request: HttpRequest) -> Any:
    """Django's get_user(), storing the user it returns under the generation read before."""
    pk, generation = getattr(request, "_user_generation", (None, _UNREAD))
    if generation is None:
        generation = _start_generation(pk)
    user = auth.get_user(request)
    if user.is_authenticated and user.pk == pk and generation not in (None, _UNREAD):
        entry = {
            "generation": generation,
            "session_hash": user.get_session_auth_hash(),
            "values": [getattr(user, name) for name in _fields()],
        }
        try:
            cache.set(_keys(pk)[0], entry, timeout=SNAPSHOT_SECONDS)
        except Exception:
            logger.exception("Could not store the user in the cache")
    return user


def _start_generation(pk: Any) -> int | None:
    # Nanoseconds, as for pages: a counter lost to eviction restarts at a value no snapshot
    # carries. add(): when two requests race, both keep whichever value won.
    key, generation = _keys(pk)[1], time.time_ns()
    try:
        return generation if cache.add(key, generation, timeout=None) else cache.get(key)
    except Exception:
        logger.exception("User cache unavailable")
        return None


def get_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = _from_snapshot(request) or _from_database(request)
    return request._cached_user


class CachedUserAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware with the user read as above."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))


def retire_snapshot(pk: Any) -> None:
    """Make the user's snapshot stale: one counter bump."""
    key = _keys(pk)[1]
    try:
        cache.incr(key)
    except ValueError:  # no counter yet (or evicted): start one no snapshot carries
        cache.set(key, time.time_ns(), timeout=None)
    except Exception:  # a cache outage must not fail the write that triggered us
        logger.exception("Could not retire a cached user")


@receiver([post_save, post_delete], sender=settings.AUTH_USER_MODEL)
def user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    pk = instance.pk
    transaction.on_commit(lambda: retire_snapshot(pk))
