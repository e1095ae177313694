"""Spend in the admin."""

from __future__ import annotations

import pytest

from articles.models import Article

pytestmark = pytest.mark.django_db

Status = Article.Status


def test_the_model_call_admin_says_how_much_of_the_budget_is_spent(admin_client, plain_static):
    response = admin_client.get("/admin/articles/modelcall/")
    assert "spent on summaries today" in response.content.decode()
