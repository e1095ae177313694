"""The account tests share the discussion tests' fixtures (commenters, fresh cache, eager tasks)."""

from tests.comments.conftest import (  # noqa: F401 - fixtures are found by name
    _fast_password_hashing,
    _fresh_cache_and_eager_tasks,
    commenter,
    other_commenter,
)
