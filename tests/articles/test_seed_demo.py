from __future__ import annotations

from django.core.management import call_command
from django.utils.html import escape

from articles.models import Article, Source, Summary, Topic


def counts() -> tuple[int, ...]:
    return (Topic.objects.count(), Source.objects.count(), Article.objects.count(), Summary.objects.count())


def test_seed_demo_creates_a_living_site_and_is_idempotent(db, client):
    call_command("seed_demo")
    first = counts()
    assert Article.objects.published().count() == 12
    call_command("seed_demo")
    assert counts() == first

    response = client.get("/")
    assert response.status_code == 200
    for article in Article.objects.published():
        assert escape(article.title) in response.text


def test_every_demo_evidence_quote_occurs_in_its_article(db):
    call_command("seed_demo")
    for summary in Summary.objects.select_related("article"):
        claims = summary.key_points + summary.faq
        assert len(summary.faq) == 3
        for claim in claims:
            assert claim["evidence"]
            for quote in claim["evidence"]:
                assert quote in summary.article.extracted_text


def test_the_printed_demo_editor_can_log_in_to_the_desk(db, client):
    call_command("seed_demo")
    assert client.login(username="editor@newsroom.test", password="newsroom-editor")
    assert client.get("/admin/").status_code == 200
