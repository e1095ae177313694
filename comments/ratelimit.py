"""Fixed-window rate limits kept in the cache, shared by every web process via Redis.

A limit reads "count/period" (period s, m, h or d); several are comma-separated, e.g.
"5/m,50/d". Each window is a cache counter created with `add` and bumped with `incr`,
both atomic in Redis, so concurrent posts cannot slip past the limit together. On Redis
every window of a spec is counted in one pipelined round trip (`SET NX EX` then `INCR`), and
a hot path may count them in a round trip it makes anyway (`counter_keys`: the JSON API counts
in the page cache's lookup, articles/api/gate.py and newsroom/pagecache.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    count: int
    period: int  # seconds


@dataclass(frozen=True)
class Window:
    """The current window of one limit for one identity: its counter and when it ends."""

    key: str
    limit: Limit
    ends_at: int


def parse_limits(spec: str) -> list[Limit]:
    return list(_parsed(spec))


@lru_cache(maxsize=64)  # a handful of specs from settings, parsed on every counted request
def _parsed(spec: str) -> tuple[Limit, ...]:
    limits = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        count, _, period = part.partition("/")
        limits.append(Limit(int(count), PERIOD_SECONDS[period.strip()[-1]] * int(period.strip()[:-1] or 1)))
    return tuple(limits)


def windows(*, scope: str, ident: str, spec: str, now: int | None = None) -> list[Window]:
    now = int(time.time()) if now is None else now
    return [
        Window(
            key=f"ratelimit:{scope}:{ident}:{limit.period}:{now // limit.period}",
            limit=limit,
            ends_at=(now // limit.period + 1) * limit.period,
        )
        for limit in _parsed(spec)
    ]


def counter_keys(current: list[Window]) -> list[tuple[str, int]]:
    """The windows' counters as the default cache names them on Redis, with their lifetimes: for a
    caller that counts them in a round trip of its own (INCR, and EXPIRE on the first use), with
    the encoding of cache.add/incr, so cache.get and count_uses read the same counters."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    # Our own keys, short and plain: make_key, without the memcached key checks.
    return [(backend.make_key(window.key), window.limit.period + 1) for window in current]


def count_uses(current: list[Window]) -> list[int]:
    """Count one use in each window; the counts after it, in order. One round trip on Redis."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # One client per cache instance (per thread), as newsroom/pagecache.get_many does:
        # Django builds a new redis.Redis on every call, which costs more than the round trip.
        client = getattr(backend, "_ratelimit_client", None)
        if client is None:
            client = backend._ratelimit_client = backend._cache.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        for key, seconds in counter_keys(current):
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
        return [int(value) for value in pipe.execute()[1::2]]
    counts = []
    for window in current:
        cache.add(window.key, 0, timeout=window.limit.period + 1)
        try:
            counts.append(cache.incr(window.key))
        except ValueError:  # the window expired between add and incr: start a new one
            cache.set(window.key, 1, timeout=window.limit.period + 1)
            counts.append(1)
    return counts


def wait_after(current: list[Window], counts: list[int], now: int | None = None) -> int:
    """0 when no window is over its limit, else the whole seconds until the latest exhausted
    window ends (a Retry-After)."""
    now = int(time.time()) if now is None else now
    waits = [w.ends_at - now for w, used in zip(current, counts, strict=True) if used > w.limit.count]
    return max(waits, default=0)


def limit_reached(*, scope: str, ident: str, spec: str, consume: bool) -> bool:
    """True when `ident` has used up any limit in `spec`; with consume, count one use first."""
    for window in windows(scope=scope, ident=ident, spec=spec):
        if consume:
            if count_uses([window])[0] > window.limit.count:
                return True
        elif (cache.get(window.key) or 0) >= window.limit.count:
            return True
    return False


def limit_wait(*, scope: str, ident: str, spec: str) -> int:
    """Count one use by `ident` against every limit in `spec`. Returns 0 when the use is
    allowed, else the whole seconds until the latest exhausted window ends (a Retry-After)."""
    now = int(time.time())
    current = windows(scope=scope, ident=ident, spec=spec, now=now)
    return wait_after(current, count_uses(current), now)
