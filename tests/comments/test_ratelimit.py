from __future__ import annotations

from comments.ratelimit import Limit, limit_reached, parse_limits


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
