"""newsroom/cache.py: the Redis cache backend keeps one client per connection pool."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis backend needs REDIS_URL")


@pytest.mark.parametrize("alias", ["default", "pages"])
def test_every_cache_call_reuses_one_client_and_still_reads_what_it_wrote(alias):
    cache = caches[alias]
    first = cache._cache.get_client(write=True)
    cache.set("cache-test:key", {"a": 1}, timeout=30)
    assert cache.get("cache-test:key") == {"a": 1}
    assert cache._cache.get_client(write=True) is first
    cache.delete("cache-test:key")
