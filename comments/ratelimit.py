"""Fixed-window rate limits kept in the cache, shared by every web process via Redis.

A limit reads "count/period" (period s, m, h or d); several are comma-separated, e.g.
"5/m,50/d". Each window is a cache counter created with `add` and bumped with `incr`,
both atomic in Redis, so concurrent posts cannot slip past the limit together. On Redis
every window of a spec is counted in one pipelined round trip (`SET NX EX` then `INCR`), which
matters where a limit guards a hot path (the JSON API, articles/api/gate.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    count: int
    period: int  # seconds


def parse_limits(spec: str) -> list[Limit]:
    limits = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        count, _, period = part.partition("/")
        limits.append(Limit(int(count), PERIOD_SECONDS[period.strip()[-1]] * int(period.strip()[:-1] or 1)))
    return limits


def _window_key(scope: str, ident: str, limit: Limit, now: int) -> str:
    return f"ratelimit:{scope}:{ident}:{limit.period}:{now // limit.period}"


def _count_uses(keys: list[tuple[str, int]]) -> list[int]:
    """Count one use in each (key, period) window; the counts after it, in order."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # One client per cache instance (per thread), as newsroom/pagecache.get_many does:
        # Django builds a new redis.Redis on every call, which costs more than the round trip.
        client = getattr(backend, "_ratelimit_client", None)
        if client is None:
            client = backend._ratelimit_client = backend._cache.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        for key, period in keys:
            # The same keys and integer encoding as cache.add/incr, so cache.get reads them.
            full_key = backend.make_and_validate_key(key)
            pipe.set(full_key, 0, ex=period + 1, nx=True)
            pipe.incr(full_key)
        return [int(value) for value in pipe.execute()[1::2]]
    counts = []
    for key, period in keys:
        cache.add(key, 0, timeout=period + 1)
        try:
            counts.append(cache.incr(key))
        except ValueError:  # the window expired between add and incr: start a new one
            cache.set(key, 1, timeout=period + 1)
            counts.append(1)
    return counts


def limit_reached(*, scope: str, ident: str, spec: str, consume: bool) -> bool:
    """True when `ident` has used up any limit in `spec`; with consume, count one use first."""
    now = int(time.time())
    for limit in parse_limits(spec):
        key = _window_key(scope, ident, limit, now)
        if consume:
            if _count_uses([(key, limit.period)])[0] > limit.count:
                return True
        elif (cache.get(key) or 0) >= limit.count:
            return True
    return False


def limit_wait(*, scope: str, ident: str, spec: str) -> int:
    """Count one use by `ident` against every limit in `spec`. Returns 0 when the use is
    allowed, else the whole seconds until the latest exhausted window ends (a Retry-After)."""
    now = int(time.time())
    limits = parse_limits(spec)
    counts = _count_uses([(_window_key(scope, ident, limit, now), limit.period) for limit in limits])
    waits = [
        limit.period - now % limit.period
        for limit, used in zip(limits, counts, strict=True)
        if used > limit.count
    ]
    return max(waits, default=0)
