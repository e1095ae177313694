"""Fixtures for the grouping tests: the embeddings backend as a loopback OpenAI-compatible
server, driven through the real client."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_embeddings(settings):
    """An embeddings endpoint configured as production would be, at the default weight."""
    with FakeOpenAI() as fake:
        settings.STORY_EMBEDDINGS_URL = fake.url
        settings.STORY_EMBEDDINGS_MODEL = "nomic-embed-text"
        settings.STORY_EMBEDDINGS_TIMEOUT_SECONDS = 2.0
        yield fake
