from __future__ import annotations

from comments import ratelimit
from comments.ratelimit import Limit, limit_reached, limit_wait, parse_limits


def test_limits_parse_counts_and_periods():
    assert parse_limits("5/m, 50/d") == [Limit(5, 60), Limit(50, 86400)]
    assert parse_limits("3/10s,1/2h") == [Limit(3, 10), Limit(1, 7200)]
    assert parse_limits("") == []


def test_a_limit_counts_uses_and_a_dry_check_does_not(db):
    spec = "2/m"
    assert not limit_reached(scope="t", ident="a", spec=spec, consume=False)
    assert not limit_reached(scope="t", ident="a", spec=spec, consume=True)
    assert not limit_reached(scope="t", ident="a", spec=spec, consume=True)
    assert limit_reached(scope="t", ident="a", spec=spec, consume=False)
    assert limit_reached(scope="t", ident="a", spec=spec, consume=True)
    assert not limit_reached(scope="t", ident="b", spec=spec, consume=False)  # per identity


def test_limit_wait_counts_every_window_and_says_how_long_the_exhausted_one_lasts(db, monkeypatch):
    now = 1_000_000_005  # 45 s into a minute, 2805 s into an hour
    monkeypatch.setattr(ratelimit.time, "time", lambda: float(now))
    spec = "2/m,3/h"

    waits = [limit_wait(scope="t", ident="a", spec=spec) for _ in range(4)]

    assert waits[:2] == [0, 0]
    assert now % 60 == 45 and now % 3600 == 2805
    assert waits[2] == 15  # the minute ran out: 15 s left of it
    assert waits[3] == 3600 - 2805  # the hour ran out too: the longer wait
    assert limit_wait(scope="t", ident="b", spec=spec) == 0  # per identity
    assert limit_reached(scope="t", ident="a", spec=spec, consume=False)  # the same counters
