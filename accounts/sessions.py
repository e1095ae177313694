"""Sessions read together with the logged-in user's cached row: one cache round trip for both.

Django's cached_db store reads the session from the "default" cache, then accounts/cached_user.py
reads the user's snapshot and its generation: two round trips on every logged-in request, one
after the other, because the session must be read before we know whose it is (issue #16). So
beside each session this store keeps a note of its user's id (written by cached_user.py when it
reads or stores that user's snapshot), and on Redis reads the session, the note and, by the id in
the note, the user's snapshot and generation in one server-side call.

The note is only a hint of which snapshot to fetch: cached_user.py uses what was fetched only for
the user the session itself names, with every check it makes on a snapshot, so a stale or wrong
note costs the usual second round trip and nothing else. Without Redis (the local-memory cache of
tests and development) this is Django's store unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import cached_db
from django.core.cache.backends.base import default_key_func
from django.core.cache.backends.redis import RedisCache

from .cached_user import key_prefixes

NOTE_PREFIX = "user:of-session:"
# How long a note outlives its last writing; a session without one takes two round trips once.
NOTE_SECONDS = 3600

# KEYS: the session's entry, its note. ARGV: the snapshot and generation keys without the user id,
# which is the note's value. A missing value arrives as false, so the table keeps its length.
_LOAD_WITH_USER = """
local found = redis.call('MGET', KEYS[1], KEYS[2])
if found[2] then
  found[3] = redis.call('GET', ARGV[1] .. found[2])
  found[4] = redis.call('GET', ARGV[2] .. found[2])
end
return found
"""


class SessionStore(cached_db.SessionStore):
    # (user id as text, snapshot entry or None, generation or None) read with the session.
    prefetched_user: tuple[str, Any, Any] | None = None

    def _redis(self) -> RedisCache | None:
        # The script builds the user's keys as the made prefix plus the id, which is what
        # make_key() gives for the whole key with Django's default key function.
        if isinstance(self._cache, RedisCache) and self._cache.key_func is default_key_func:
            return self._cache
        return None

    def load(self) -> dict:
        backend = self._redis()
        if backend is None or self.session_key is None:
            return super().load()
        snapshot_prefix, generation_prefix = (backend.make_key(prefix) for prefix in key_prefixes())
        try:
            script = getattr(backend, "_session_script", None)
            if script is None:
                client = backend._cache.get_client(write=False)
                script = backend._session_script = client.register_script(_LOAD_WITH_USER)
            found = script(
                keys=[backend.make_key(self.cache_key), backend.make_key(NOTE_PREFIX + self.session_key)],
                args=[snapshot_prefix, generation_prefix],
            )
        except Exception:
            return super().load()  # Django's own path: it treats a cache error as a miss
        loads = backend._cache._serializer.loads
        if len(found) == 4:
            self.prefetched_user = (
                found[1].decode(),
                None if found[2] is None else loads(found[2]),
                None if found[3] is None else loads(found[3]),
            )
        if found[0] is None:
            return super().load()  # not cached: from the database, as Django does
        return loads(found[0])

    def note_user(self, pk: Any) -> None:
        """Remember whose session this is, for the next request's one round trip."""
        backend = self._redis()
        if backend is None or self.session_key is None or not isinstance(pk, int):
            return
        try:
            backend.set(NOTE_PREFIX + self.session_key, pk, timeout=NOTE_SECONDS)
        except Exception:  # a hint: losing it costs a round trip, never a page
            pass
