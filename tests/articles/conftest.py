"""Reader-site fixtures: a clean page cache per test and a small published world."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean_page_cache():
    # Pages cached by an earlier test would describe rows that no longer exist.
    cache.clear()
    yield
    cache.clear()
