"""Fixed-window rate limits kept in the cache, shared by every web process via Redis.

A limit reads "count/period" (period s, m, h or d); several are comma-separated, e.g.
"5/m,50/d". Each window is a cache counter created with `add` and bumped with `incr`,
both atomic in Redis, so concurrent posts cannot slip past the limit together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

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


def limit_reached(*, scope: str, ident: str, spec: str, consume: bool) -> bool:
    """True when `ident` has used up any limit in `spec`; with consume, count one use first."""
    now = int(time.time())
    for limit in parse_limits(spec):
        key = f"ratelimit:{scope}:{ident}:{limit.period}:{now // limit.period}"
        if consume:
            cache.add(key, 0, timeout=limit.period + 1)
            try:
                used = cache.incr(key)
            except ValueError:  # the window expired between add and incr: start a new one
                cache.set(key, 1, timeout=limit.period + 1)
                used = 1
            if used > limit.count:
                return True
        elif (cache.get(key) or 0) >= limit.count:
            return True
    return False
