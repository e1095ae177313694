"""articles/api/router.py: what each endpoint answers, walked through the OpenAPI document."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from openapi_spec_validator import validate

from articles.models import Article, Story
from tests import factories

from .conftest import SECRETS

pytestmark = pytest.mark.django_db


def get(client: Client, url: str, **headers: str):
    """GET a URL (absolute or a path); returns (status, parsed JSON body, raw body)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    response = client.get(path, headers=headers)
    body = response.content.decode()
    return response.status_code, (json.loads(body) if body else None), body


def walk(client: Client, site, **headers: str) -> dict[str, str]:
    """Every operation of the OpenAPI document, with every slug the database has (on the site or
    not) and every filter value, following every list to its last page. Returns body by URL."""
    status, document, _ = get(client, "/api/v1/openapi.json", **headers)
    assert status == 200
    slugs = {
        "{slug}": [
            *Article.objects.values_list("slug", flat=True),
            *Story.objects.values_list("slug", flat=True),
        ]
    }
    filters = [
        {},
        {"limit": 1},
        *({"topic": slug, "limit": 1} for slug in ("transport", "energy")),
        *({"source": s.slug, "limit": 1} for s in (site.gazette, site.tribune, site.herald, site.wire)),
        {"updated_since": (site.now - timedelta(days=1)).isoformat(), "limit": 2},
    ]
    searches = [{"q": word} for word in ("council", "rail", *SECRETS.values())]
    bodies: dict[str, str] = {}
    for template, methods in document["paths"].items():
        assert set(methods) == {"get"}, template  # read-only
        names = [p["name"] for p in methods["get"].get("parameters", []) if p["in"] == "query"]
        if "{slug}" in template:
            urls = [template.replace("{slug}", slug) for slug in slugs["{slug}"]]
        elif "q" in names:
            urls = [f"{template}?{urlencode(params)}" for params in searches]
        elif "cursor" in names:
            urls = [f"{template}?{urlencode(params)}" for params in filters]
        else:
            urls = [template]
        for url in urls:
            while url:
                status, data, body = get(client, url, **headers)
                assert status in (200, 301, 404), (url, status, body)
                if isinstance(data, dict) and "query" in data:  # search echoes the words it was asked
                    body = json.dumps({**data, "query": ""})
                bodies[url] = body
                url = data.get("next_url") if status == 200 and isinstance(data, dict) else None
    return bodies


@pytest.mark.parametrize("caller", ["anonymous", "token holder"])
def test_no_endpoint_ever_shows_drafts_unpublished_versions_emails_or_moderation(api_site, api, caller):
    headers = {"Authorization": f"Bearer {api_site.secret}"} if caller == "token holder" else {}

    bodies = walk(api, api_site, **headers)

    everything = "\n".join(bodies.values()).lower()
    leaked = {name: word for name, word in SECRETS.items() if word.lower() in everything}
    assert not leaked, leaked
    assert api_site.secret not in everything and api_site.token.token_hash not in everything
    # The walk did reach what is on the site, so a silent failure cannot pass as "nothing leaked".
    for article in (api_site.first, api_site.second, api_site.ferry):
        assert f'"slug": "{article.slug}"' in everything
    assert "cut commuting times in half" in everything  # evidence quotes of the current summary
    assert len(bodies) > 60


def test_the_openapi_document_is_a_valid_openapi_3_1_document(api):
    status, document, _ = get(api, "/api/v1/openapi.json")

    assert status == 200 and document["openapi"].startswith("3.1")
    validate(document)
    assert {
        "/api/v1/stories",
        "/api/v1/stories/{slug}",
        "/api/v1/articles",
        "/api/v1/articles/{slug}",
    } <= set(document["paths"])
    assert {"/api/v1/topics", "/api/v1/sources", "/api/v1/search", "/api/v1/corrections"} <= set(
        document["paths"]
    )


# --- Stories ----------------------------------------------------------------------------------


def test_a_story_shows_its_lead_summary_with_evidence_and_its_coverage(api_site, api):
    status, story, _ = get(api, f"/api/v1/stories/{api_site.rail.slug}")

    assert status == 200
    assert story["shown"]["slug"] == api_site.first.slug
    summary = story["summary"]
    assert summary["version"] == 2 and summary["kind"] == "editor" and summary["reviewed_by_editor"] is True
    assert [p["heading"] for p in summary["key_points"]] == [
        "What happened",
        "Why it matters",
        "What to watch",
    ]
    assert summary["key_points"][1]["evidence"] == ["cut commuting times in half for forty thousand riders"]
    assert summary["faq"][0]["question"] == "How much will it cost?" and summary["faq"][0]["evidence"]
    coverage = {item["source"]["name"]: item for item in story["coverage"]}
    # The rejected member is not coverage; the draft member and the copy are, without pages.
    assert len(story["coverage"]) == 4 and story["article_count"] == 4 and story["source_count"] == 4
    assert coverage["Harbour Herald"]["copy_of"] == api_site.first.pk
    assert coverage["Harbour Herald"]["article"] is None
    assert coverage["Wire Service"]["article"] is None
    assert coverage["Valley Tribune"]["article"]["slug"] == api_site.second.slug
    assert story["coverage"][0]["first_report"] is True
    assert story["url"].endswith(f"/stories/{api_site.rail.slug}/")


def test_a_story_summary_shows_its_numbered_sources_verified_citations_and_disagreements(api_site, api):
    status, story, _ = get(api, f"/api/v1/stories/{api_site.ferry.story.slug}")

    assert status == 200
    summary = story["summary"]
    assert summary["sources"] == [
        {"n": 1, "source": "Valley Tribune", "url": api_site.ferry.url, "title": api_site.ferry.title},
        {
            "n": 2,
            "source": "Wire Service",
            "url": api_site.ferry_wire.url,
            "title": api_site.ferry_wire.title,
        },
    ]
    assert summary["checked_sources"] == 2
    what_happened, why, watch = summary["key_points"]
    assert [c["source"] for c in what_happened["citations"]] == [1, 2]
    assert what_happened["single_source"] is False
    assert why["single_source"] is True and [c["source"] for c in why["citations"]] == [2]
    # The citation the grounding check could not verify is not shown.
    assert watch["citations"] == [
        {"source": 1, "quote": "The first public hearings on the route are planned for the spring."}
    ]
    assert [c["source"] for c in summary["faq"][0]["citations"]] == [1, 2]
    assert summary["disagreements"] == [
        {
            "fact": "the first sailing",
            "claims": [{"source": 1, "says": "6:00"}, {"source": 2, "says": "6:30"}],
        }
    ]
    # Published by the factory without an editor: the label says so, as the page does.
    assert summary["reviewed_by_editor"] is False
    assert summary["ai_label"] == "AI-generated summary, published without editor review"
    assert (
        summary["digital_source_type"]
        == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    )


def test_a_summary_of_one_article_has_that_article_as_its_one_source_and_no_citations(api_site, api):
    _, story, _ = get(api, f"/api/v1/stories/{api_site.rail.slug}")

    summary = story["summary"]
    first = api_site.first
    assert summary["sources"] == [{"n": 1, "source": "City Gazette", "url": first.url, "title": first.title}]
    assert summary["checked_sources"] == 1 and summary["disagreements"] == []
    assert all(p["citations"] == [] and p["single_source"] is False for p in summary["key_points"])
    assert summary["ai_label"] == "Summary written by an editor" and summary["digital_source_type"] is None
    assert summary["update_line"] is None


def test_a_story_lists_its_timeline_and_follow_ups_both_ways(api_site, api):
    _, rail, _ = get(api, f"/api/v1/stories/{api_site.rail.slug}")
    _, ferry, _ = get(api, f"/api/v1/stories/{api_site.ferry.story.slug}")

    ferry_link = {
        "title": api_site.ferry.story.title,
        "url": f"http://127.0.0.1:8000/stories/{api_site.ferry.story.slug}/",
        "api_url": f"http://127.0.0.1:8000/api/v1/stories/{api_site.ferry.story.slug}",
    }
    # The question still open is not a follow-up.
    assert rail["follow_ups"] == [{"question": "Will the ferries change too?", "story": ferry_link}]
    assert rail["follows_up"] == []
    # The rail story's first publication opened its timeline (Article.publish records it).
    assert [entry["text"] for entry in rail["timeline"]] == ["The council voted to build a light-rail line."]
    assert [f["story"]["title"] for f in ferry["follows_up"]] == [api_site.rail.title]
    assert [entry["text"] for entry in ferry["timeline"]] == ["The ferry timetable changes from Monday."]


def test_a_story_with_one_page_names_that_page_as_its_canonical_address(api_site, api):
    status, story, _ = get(api, f"/api/v1/stories/{api_site.ferry.story.slug}")

    assert status == 200 and story["url"].endswith(api_site.ferry.get_absolute_url())


def test_a_story_not_on_the_site_is_not_found_and_a_merged_one_redirects(api_site, api):
    status, body, _ = get(api, f"/api/v1/stories/{api_site.hidden_story.slug}")
    assert status == 404 and body["error"] == "not_found"

    merged = factories.make_story(title="Old name")
    Story.objects.filter(pk=merged.pk).update(merged_into=api_site.rail)
    response = api.get(f"/api/v1/stories/{merged.slug}")
    assert response.status_code == 301
    assert response["Location"] == f"/api/v1/stories/{api_site.rail.slug}"


def test_the_story_list_pages_through_every_story_once_in_order(api, db):
    stories = [factories.publish(title=f"Event {n}", ago=timedelta(minutes=n)) for n in range(7)]

    seen, url = [], "/api/v1/stories?limit=3"
    while url:
        status, page, _ = get(api, url)
        assert status == 200
        seen += [item["shown"]["slug"] for item in page["items"]]
        url = page["next_url"]

    assert seen == [article.slug for article in stories]


def test_a_cursor_stays_stable_while_new_stories_arrive(api, db):
    for n in range(4):
        factories.publish(title=f"Event {n}", ago=timedelta(minutes=10 + n))
    _, first_page, _ = get(api, "/api/v1/stories?limit=2")

    factories.publish(title="Breaking", ago=timedelta(minutes=0))
    _, second_page, _ = get(api, first_page["next_url"])

    assert [i["title"] for i in second_page["items"]] == ["Event 2", "Event 3"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda cursor: cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"),
        lambda cursor: "x" + cursor,
        lambda cursor: "not-a-cursor",
    ],
)
def test_a_tampered_cursor_is_refused_with_a_clear_400(api, db, tamper):
    for n in range(3):
        factories.publish(title=f"Event {n}")
    _, page, _ = get(api, "/api/v1/stories?limit=1")

    status, body, _ = get(api, f"/api/v1/stories?{urlencode({'cursor': tamper(page['next_cursor'])})}")

    assert status == 400
    assert body["error"] == "invalid_cursor" and "next_cursor" in body["message"]


def test_a_cursor_of_one_list_is_refused_by_another(api, db):
    for n in range(3):
        factories.publish(title=f"Event {n}")
    _, page, _ = get(api, "/api/v1/articles?limit=1")

    status, body, _ = get(api, f"/api/v1/stories?cursor={page['next_cursor']}")

    assert status == 400 and "articles list" in body["message"]


def test_stories_filter_by_topic_source_and_dates(api_site, api):
    def slugs(query: str) -> list[str]:
        status, page, _ = get(api, f"/api/v1/stories?{query}")
        assert status == 200, page
        return [item["slug"] for item in page["items"]]

    rail, ferry = api_site.rail.slug, api_site.ferry.story.slug
    assert slugs("") == [ferry, rail]
    assert slugs("topic=transport") == [rail]
    assert slugs("topic=energy") == [ferry]
    assert slugs("topic=no-such-topic") == []
    assert slugs(f"source={api_site.tribune.slug}") == [ferry, rail]
    assert slugs(f"source={api_site.gazette.slug}") == [rail]
    hour_and_a_half_ago = (api_site.now - timedelta(minutes=90)).isoformat()
    assert slugs(urlencode({"published_after": hour_and_a_half_ago})) == [ferry]
    assert slugs(urlencode({"published_before": hour_and_a_half_ago})) == [rail]


@pytest.mark.parametrize("endpoint", ["stories", "articles"])
def test_a_time_at_the_edge_of_the_calendar_is_the_first_or_last_time_there_is(api_site, api, endpoint):
    # Valid RFC 3339 times whose offsets move them past year 1 or year 9999 in UTC
    # (schemathesis found the first answered 400 "out of range").
    def count(query: dict) -> int:
        status, page, _ = get(api, f"/api/v1/{endpoint}?{urlencode(query)}")
        assert status == 200, page
        return len(page["items"])

    everything = count({})
    assert everything > 0
    assert count({"published_after": "0001-01-01T00:00:00+03:04"}) == everything
    assert count({"updated_since": "0001-01-01T00:00:00.0+03:04"}) == everything
    assert count({"published_before": "9999-12-31T23:59:59-05:00"}) == everything
    assert count({"published_after": "9999-12-31T23:59:59-05:00"}) == 0
    assert count({"published_before": "0001-01-01T00:00:00+03:04"}) == 0


def test_updated_since_finds_stories_corrected_or_given_new_coverage(api_site, api):
    Story.objects.update(updated_at=api_site.now - timedelta(hours=5))
    since = api_site.now - timedelta(minutes=30)

    def updated() -> list[str]:
        status, page, _ = get(api, f"/api/v1/stories?{urlencode({'updated_since': since.isoformat()})}")
        assert status == 200
        return [item["slug"] for item in page["items"]]

    # The rail story's article was corrected a moment ago; the ferry was published an hour ago.
    assert updated() == [api_site.rail.slug]
    # A new report joins the ferry story: its coverage changed.
    factories.make_article(story=api_site.ferry.story, title="Ferry: a second report")
    assert updated() == [api_site.ferry.story.slug, api_site.rail.slug]


@pytest.mark.parametrize("value", ["yesterday", "2026-01-01", "0.5", "2026-01-01T10:00:00"])
def test_a_time_that_is_not_rfc_3339_is_refused(api, db, value):
    status, body, _ = get(api, f"/api/v1/stories?{urlencode({'updated_since': value})}")

    assert status == 400 and body["error"] == "invalid_request" and "updated_since" in body["message"]


# --- Articles ---------------------------------------------------------------------------------


def test_an_article_shows_its_current_approved_summary_and_who_republished_it(api_site, api):
    status, article, _ = get(api, f"/api/v1/articles/{api_site.first.slug}")

    assert status == 200
    assert article["summary"]["version"] == 2
    assert article["key_takeaway"] == article["summary"]["key_takeaway"]
    assert article["corrected_at"] is not None
    assert article["story"]["slug"] == api_site.rail.slug
    assert [c["source"]["name"] for c in article["also_published_by"]] == ["Harbour Herald"]
    assert article["canonical_url"].endswith(api_site.first.get_absolute_url())
    assert [t["slug"] for t in article["topics"]] == ["transport"]


@pytest.mark.parametrize("which", ["draft", "rejected", "new", "failed", "copy", "in_story_draft"])
def test_an_article_not_on_the_site_is_not_found(api_site, api, which):
    status, body, _ = get(api, f"/api/v1/articles/{getattr(api_site, which).slug}")

    assert status == 404 and body["error"] == "not_found"


def test_the_article_list_pages_through_every_article_and_filters(api_site, api):
    seen, url = [], "/api/v1/articles?limit=2"
    while url:
        _, page, _ = get(api, url)
        seen += [item["slug"] for item in page["items"]]
        url = page["next_url"]

    assert seen == [api_site.ferry.slug, api_site.second.slug, api_site.first.slug]
    _, page, _ = get(api, "/api/v1/articles?topic=energy")
    assert [item["slug"] for item in page["items"]] == [api_site.ferry.slug]
    since = (api_site.now - timedelta(minutes=30)).isoformat()
    _, page, _ = get(api, f"/api/v1/articles?{urlencode({'updated_since': since})}")
    assert [item["slug"] for item in page["items"]] == [api_site.first.slug]  # corrected just now


def test_next_url_carries_the_filters_and_not_stray_parameters(api_site, api):
    _, page, _ = get(api, "/api/v1/articles?topic=transport&limit=1&utm_source=x")

    query = urlsplit(page["next_url"]).query
    assert "topic=transport" in query and "limit=1" in query and "utm_source" not in query


# --- Topics, sources, search, corrections -----------------------------------------------------


def test_topics_and_sources_show_only_public_fields(api_site, api):
    _, topics, _ = get(api, "/api/v1/topics")
    _, sources, _ = get(api, "/api/v1/sources")

    assert [t["slug"] for t in topics] == ["energy", "transport"]
    assert {s["name"] for s in sources} == {"City Gazette", "Valley Tribune"}  # with articles on the site
    assert set(sources[0]) == {"id", "slug", "name", "site_url", "language", "url"}


def test_search_finds_articles_on_the_site_only(api_site, api):
    status, results, _ = get(api, "/api/v1/search?q=vote")

    assert status == 200 and results["query"] == "vote"
    assert [item["slug"] for item in results["items"]] == [api_site.second.slug]
    _, results, _ = get(api, "/api/v1/search?q=billion")
    assert "<mark>billion</mark>" in results["items"][0]["snippet_html"]
    _, nothing, _ = get(api, f"/api/v1/search?{urlencode({'q': SECRETS['in_review_title']})}")
    assert nothing["items"] == []


def test_search_without_words_is_refused(api, db):
    status, body, _ = get(api, "/api/v1/search")

    assert status == 400 and "q" in body["message"]


def test_the_corrections_log_lists_the_correction_without_the_editor(api_site, api):
    _, log, _ = get(api, "/api/v1/corrections")

    assert [(c["article"]["slug"], c["version"]) for c in log["items"]] == [(api_site.first.slug, 2)]
    assert "key takeaway was rewritten" in log["items"][0]["what_changed"]


def test_a_publication_is_in_the_cached_api_as_soon_as_it_commits(
    api_site, settings, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_SECONDS = 300
    client = Client()
    for url in ("/api/v1/stories", "/api/v1/articles", "/api/v1/topics"):
        client.get(url)
        assert client.get(url)["X-Page-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        article = factories.make_review_article(title="Breaking: the bridge reopens")
        article.publish(article.latest_summary)

    for url in ("/api/v1/stories", "/api/v1/articles"):
        response = client.get(url)
        assert response["X-Page-Cache"] == "miss" and "the bridge reopens" in response.content.decode()


def test_an_unknown_api_address_answers_json(api, db):
    status, body, _ = get(api, "/api/v1/no-such-thing")

    assert status == 404 and body["error"] == "not_found"
