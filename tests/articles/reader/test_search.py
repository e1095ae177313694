"""Search: published articles only, ranked, with highlighted and escaped snippets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from articles.models import Article, Summary
from articles.reader.search import search_articles
from tests import factories

pytestmark = pytest.mark.django_db


def _published(title: str, takeaway: str, *, hours_ago: int = 0) -> Article:
    article = factories.make_published_article(title=title)
    article.summaries.update(key_takeaway=takeaway)
    article.published_on_site_at = timezone.now() - timedelta(hours=hours_ago)
    article.save(update_fields=["published_on_site_at"])
    return article


def test_search_finds_words_in_titles_and_takeaways(db):
    rail = _published("Council approves light-rail line", "The city will build a tram across the river.")
    ferry = _published("Ferry timetable changes", "Boats now leave every twenty minutes.")
    assert [a.pk for a in search_articles(query="ferry")] == [ferry.pk]
    assert [a.pk for a in search_articles(query="river tram")] == [rail.pk]
    assert search_articles(query="submarine") == []
    assert search_articles(query="   ") == []


def test_search_highlights_matches_and_escapes_article_text(db):
    _published("Harbour <b>news</b>", "Cranes & <script>alert(1)</script> at the harbour today.")
    [result] = search_articles(query="harbour")
    assert "<mark>" in result.snippet
    assert "<script>" not in result.snippet and "&lt;script&gt;" in result.snippet
    assert "&amp;" in result.snippet


def test_search_never_returns_unpublished_articles(db):
    _published("Tram depot opens", "A new tram depot opened.")
    draft = factories.make_article(title="Tram draft", status=Article.Status.IN_REVIEW)
    Summary.create_version(article=draft, **factories.summary_fields(key_takeaway="Tram draft takeaway"))
    scheduled = _published("Tram schedule story", "Trams later.")
    scheduled.published_on_site_at = timezone.now() + timedelta(days=1)
    scheduled.save(update_fields=["published_on_site_at"])
    assert [a.title for a in search_articles(query="tram")] == ["Tram depot opens"]


@pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="ranking needs PostgreSQL full-text search (DATABASE_URL)"
)
def test_title_matches_rank_above_takeaway_matches_on_postgres(db):
    older_title_hit = _published("Bridge repairs begin", "Work starts on Monday.", hours_ago=5)
    newer_body_hit = _published("Council news", "The council discussed the bridge.", hours_ago=1)
    results = search_articles(query="bridge")
    assert [a.pk for a in results] == [older_title_hit.pk, newer_body_hit.pk]
    assert results[0].rank > results[1].rank


def test_a_minus_sign_excludes_a_word(db):
    rail = _published("Councils approving rail lines", "Trains are coming.")
    _published("Rail museum", "Old trains on show.")
    assert [a.pk for a in search_articles(query="rail -museum")] == [rail.pk]


@pytest.mark.skipif(
    not settings.IS_POSTGRES, reason="stemming needs PostgreSQL full-text search (DATABASE_URL)"
)
def test_postgres_search_matches_word_forms(db):
    rail = _published("Councils approving rail lines", "Trains are coming.")
    assert rail.pk in [a.pk for a in search_articles(query="approve")]


def test_the_search_page_shows_results_with_a_labelled_form(client, db):
    _published("Council approves light-rail line", "The city will build a tram across the river.")
    html = client.get("/search/?q=tram").content.decode()
    assert '<label for="search-q">' in html
    assert "1 result for “tram”" in html
    assert "<mark>" in html
    assert client.get("/search/").status_code == 200


def _result_titles(html: str) -> list[str]:
    from lxml import html as lxml_html

    return [" ".join(h.text_content().split()) for h in lxml_html.fromstring(html).xpath("//main//h3")]


def test_search_results_come_twenty_a_page_with_links_between_the_pages(client, db):
    for n in range(45):
        _published(f"Ferry timetable {n:02d}", "Boats leave more often.", hours_ago=n)

    first = client.get("/search/?q=ferry").content.decode()
    second = client.get("/search/?q=ferry&page=2").content.decode()
    third = client.get("/search/?q=ferry&page=3").content.decode()

    assert "Results for “ferry”, page 1" in first
    assert '<a rel="next" href="?q=ferry&amp;page=2">More results</a>' in first
    assert 'rel="prev"' not in first
    assert '<a rel="prev" href="?q=ferry">Previous results</a>' in second
    assert '<a rel="next" href="?q=ferry&amp;page=3">' in second
    assert 'rel="next"' not in third and '<a rel="prev" href="?q=ferry&amp;page=2">' in third
    pages = [_result_titles(html) for html in (first, second, third)]
    assert [len(titles) for titles in pages] == [20, 20, 5]
    every = [title for titles in pages for title in titles]
    assert sorted(every) == sorted(f"Ferry timetable {n:02d}" for n in range(45))  # each once


@pytest.mark.parametrize("page", ["0", "-3", "abc", "1e9", ""])
def test_a_malformed_results_page_number_shows_the_first_page(client, db, page):
    _published("Ferry timetable changes", "Boats leave more often.")

    html = client.get(f"/search/?q=ferry&page={page}").content.decode()

    assert "1 result for “ferry”" in html
    assert _result_titles(html) == ["Ferry timetable changes"]


def test_a_page_past_the_results_says_so_and_leads_back(client, db):
    _published("Ferry timetable changes", "Boats leave more often.")

    html = client.get("/search/?q=ferry&page=4").content.decode()

    assert "No more summaries match your search." in html
    assert '<a rel="prev" href="?q=ferry&amp;page=3">Previous results</a>' in html


def test_a_corrected_takeaway_no_longer_matches_its_old_wording(db, editor):
    article = _published("Budget vote", "The council approved a zeppelin port.")
    assert [a.pk for a in search_articles(query="zeppelin")] == [article.pk]
    fields = factories.summary_fields(
        kind="editor", producer="E", key_takeaway="The council approved a ferry port."
    )
    article.publish(Summary.create_version(article=article, **fields), by=editor)
    assert search_articles(query="zeppelin") == []
    assert [a.pk for a in search_articles(query="ferry")] == [article.pk]


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="stored search documents exist only on PostgreSQL")
def test_postgres_keeps_each_search_document_in_step_with_its_text(db):
    from django.db import connection

    article = _published("Bridge repairs begin", "Work starts on Monday.")
    Article.objects.filter(pk=article.pk).update(title="Ferry timetable changes")
    summary = article.summaries.get()
    Summary.objects.filter(pk=summary.pk).update(key_takeaway="Harbour boats leave more often.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_title::text FROM articles_article WHERE id = %s", [article.pk])
        assert cursor.fetchone()[0] == "'chang':3A 'ferri':1A 'timet':2A"
        cursor.execute("SELECT search_takeaway::text FROM articles_summary WHERE id = %s", [summary.pk])
        assert cursor.fetchone()[0] == "'boat':2B 'harbour':1B 'leav':3B 'often':5B"
    assert [a.pk for a in search_articles(query="ferries")] == [article.pk]
    assert [a.pk for a in search_articles(query="boats")] == [article.pk]
    assert search_articles(query="bridge") == []


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="query plans are PostgreSQL's (DATABASE_URL)")
def test_the_search_plan_reads_the_gin_indexes_and_never_scans_every_article(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(150):
        _published(f"Council budget meeting number {n}", f"The council met for the {n}th time.")
    _published("Bridge repairs begin", "Work starts on Monday.")
    _published("Ferry timetable changes", "The harbour bridge closes, so boats leave more often.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # statistics as autovacuum would have them
    with CaptureQueriesContext(connection) as queries:
        assert len(search_articles(query="bridge")) == 2
    ranking = queries.captured_queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + ranking)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "article_title_fts" in plan and "summary_takeaway_fts" in plan, plan
    assert "Seq Scan on articles_article" not in plan, plan
