"""Account tests: fast password hashing, and emails (verification, replies) sent in-process.

The cast (reader, commenter, other_commenter, editor) comes from tests/conftest.py.
"""

import pytest


@pytest.fixture(autouse=True)
def _fast_passwords_and_eager_tasks(fast_passwords, eager_celery):
    pass
