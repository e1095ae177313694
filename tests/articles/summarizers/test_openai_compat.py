"""The OpenAI-compatible backend against a loopback server, through httpx."""

from __future__ import annotations

import pytest

from articles.models import Article, ModelCall, Summary
from articles.summarizers import workflow
from tests import factories
from tests.articles.summarizers.conftest import summarize
from tests.fakes.anthropic_server import Reply

# Tasks enqueued here (sweeper, batch fallback) run in-process on both CI legs.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = Article.Status


def test_an_openai_compatible_endpoint_summarises_with_json_schema_output(fake_openai):
    article = factories.make_article()

    outcome = summarize(article)

    assert outcome.result == "summarized"
    summary = article.latest_summary
    assert summary.kind == Summary.Kind.AI and summary.producer == "local-llama"
    assert summary.cost_usd == 0  # self-hosted: not in SUMMARY_PRICES
    request = fake_openai.requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["required"][1] == "key_points"
    assert fake_openai.headers[0]["authorization"] == "Bearer local-key"
    assert ModelCall.objects.get().input_tokens > 0


def test_openai_compatible_malformed_json_is_retried_once(fake_openai):
    article = factories.make_article()
    fake_openai.script.append("{not json")
    assert summarize(article).result == "summarized"
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (Reply(503, {"error": {"message": "loading model"}}, {"retry-after": "3"}), True),
        (Reply(429, {"error": {"code": "insufficient_quota", "message": "quota"}}), False),
        (Reply(401, {"error": {"message": "bad key"}}), False),
    ],
    ids=["503", "quota-429", "401"],
)
def test_openai_compatible_errors_are_classified_for_retry(fake_openai, reply, retryable):
    article = factories.make_article()
    fake_openai.script.append(reply)
    if retryable:
        with pytest.raises(workflow.SummaryTemporaryError) as exc_info:
            summarize(article, final_attempt=False)
        assert exc_info.value.retry_after == 3
    else:
        assert summarize(article, final_attempt=False).result == "failed"
