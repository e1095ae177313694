"""articles/reader/citations.py through the pages readers see: each key point and FAQ answer
with the sources behind it and their quotes, where the sources differ, what the summary was
checked against, the AI label, and the same facts in the JSON-LD.

Read from the raw HTML with lxml's HTML parser, and the JSON-LD with extruct as well as json.
"""

from __future__ import annotations

import json
import re

import extruct
import lxml.html
import pytest

from articles.models import Summary
from tests import factories

from .conftest import hours_ago

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8000"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
UNVERIFIED = "Hearings were cancelled outright."


@pytest.fixture(autouse=True)
def _uncached_pages(settings):
    # Summaries change between requests inside one transaction, where on-commit invalidation
    # never runs (test_invalidation.py tests that).
    settings.PAGE_CACHE_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 0


@pytest.fixture
def quake(editor):
    """ "Earthquake strikes the coast", reported by Reuters (the lead), AP and the BBC, all on the
    site; the lead carries a story summary of the three, approved by an editor, in which
    the sources differ on the death toll."""
    story = factories.make_story(title="Earthquake strikes the coast")
    reports = [
        factories.publish(
            title=f"{name}: earthquake strikes the coast",
            story=story,
            source=factories.make_source(name=name),
            url=f"https://{name.lower()}.example.com/quake",
            published_at=hours_ago(5 - n),
        )
        for n, name in enumerate(("Reuters", "AP", "BBC"))
    ]
    story.refresh_from_db()
    lead = reports[0]
    assert story.lead_id == lead.pk
    summary = factories.publish_story_summary(
        lead,
        reports,
        by=editor,
        disagreements=[
            {
                "fact": "the death toll",
                "claims": [{"source": 1, "says": "12 dead"}, {"source": 2, "says": "15 dead"}],
            }
        ],
    )
    return story, reports, summary


def _doc(client, url: str) -> lxml.html.HtmlElement:
    response = client.get(url)
    assert response.status_code == 200, url
    return lxml.html.document_fromstring(response.content)


def _text(element) -> str:
    return " ".join(element.text_content().split())


def _backing(element) -> tuple[list[tuple[str, str, str]], str, list[str]]:
    """(sources as (name, href, rel), the backing line's text, quotes as text) under `element`."""
    (line,) = element.xpath(".//p[@class='backing']")
    sources = [(a.text_content(), a.get("href"), a.get("rel")) for a in line.xpath("./a")]
    quotes = [_text(li) for li in element.xpath(".//details[@class='quotes']/ul/li")]
    return sources, _text(line), quotes


def _pages(story, reports) -> list[str]:
    """The story page and the lead's article page: both show the story summary."""
    return [story.get_absolute_url(), reports[0].get_absolute_url()]


def test_each_key_point_names_its_sources_linking_to_the_originals_with_their_quotes(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        doc = _doc(client, url)

        sources, line, quotes = _backing(doc.get_element_by_id("kp-0"))
        assert sources == [(r.source.name, r.url, "external noopener") for r in reports], url
        assert "Single source" not in line
        summary = doc.get_element_by_id("kp-0").xpath(".//details[@class='quotes']/summary")[0]
        assert summary.text_content() == "Quotes"
        sentence = "The city council voted on Tuesday to build a new light-rail line across the river."
        assert quotes == [f"{sentence} — {name}" for name in ("Reuters", "AP", "BBC")], url
        # Each quote is attributed to its source by a link to the original.
        attributed = doc.get_element_by_id("kp-0").xpath(".//details[@class='quotes']//a/@href")
        assert attributed == [r.url for r in reports]


def test_a_point_backed_by_one_source_says_single_source(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        doc = _doc(client, url)
        sources, line, quotes = _backing(doc.get_element_by_id("kp-1"))
        assert line.startswith("Single source Source: BBC"), (url, line)
        assert [name for name, _, _ in sources] == ["BBC"]
        assert quotes == ["cut commuting times in half for forty thousand riders — BBC"]


def test_a_quote_the_grounding_check_could_not_verify_is_never_shown(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        html = client.get(url).content.decode()
        assert UNVERIFIED not in html, url
        sources, _, quotes = _backing(_doc(client, url).get_element_by_id("kp-2"))
        # "What to watch" cites Reuters (verified) and the BBC (unverified): only Reuters backs it.
        assert [name for name, _, _ in sources] == ["Reuters"]
        assert len(quotes) == 1 and quotes[0].endswith("— Reuters")


def test_each_faq_answer_shows_its_sources_and_quotes_inside_its_details(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        faq = _doc(client, url).get_element_by_id("faq-0")
        assert faq.tag == "details"
        sources, _, quotes = _backing(faq)
        assert [name for name, _, _ in sources] == ["Reuters", "AP"]
        assert [q.rsplit(" — ", 1)[1] for q in quotes] == ["Reuters", "AP"]


def test_sources_that_differ_are_listed_fact_by_fact_with_what_each_says(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        doc = _doc(client, url)
        (section,) = doc.xpath("//section[@class='disagreements']")
        assert _text(section.xpath("./h2")[0]) == "Sources differ"
        (fact,) = section.xpath("./ul/li")
        assert _text(fact.xpath("./strong")[0]) == "The death toll"
        claims = [(_text(li), li.xpath("./a/@href")) for li in fact.xpath("./ul/li")]
        assert claims == [("Reuters: 12 dead", [reports[0].url]), ("AP: 15 dead", [reports[1].url])]


def test_the_page_says_how_many_sources_the_summary_was_checked_against(client, quake, editor):
    story, reports, _ = quake
    for url in _pages(story, reports):
        (line,) = _doc(client, url).xpath("//p[@class='checked']")
        assert _text(line) == "Checked against 3 sources."

    lone = factories.publish(title="Ferry timetable changes")
    (line,) = _doc(client, lone.get_absolute_url()).xpath("//p[@class='checked']")
    assert _text(line) == "Checked against 1 source."


def test_a_summary_of_one_article_shows_no_citations_as_before(client):
    article = factories.publish(title="Ferry timetable changes")
    doc = _doc(client, article.get_absolute_url())

    assert doc.xpath("//p[@class='backing']") == [] and doc.xpath("//details[@class='quotes']") == []
    assert doc.xpath("//section[@class='disagreements']") == []
    assert (
        _text(doc.get_element_by_id("kp-0").xpath("./p")[0])
        == "The council voted to build a light-rail line."
    )


def test_a_source_address_that_is_not_http_is_never_a_link(client, quake):
    story, reports, summary = quake
    sources = [dict(row) for row in summary.sources]
    sources[1]["url"] = "javascript:alert(1)"
    Summary.objects.filter(pk=summary.pk).update(sources=sources)

    html = client.get(story.get_absolute_url()).content.decode()

    assert "javascript:" not in html
    sources, _, _ = _backing(_doc(client, story.get_absolute_url()).get_element_by_id("kp-0"))
    assert [(name, href) for name, href, _ in sources] == [
        ("Reuters", reports[0].url),
        ("BBC", reports[2].url),
    ]
    assert "AP" in _text(_doc(client, story.get_absolute_url()).get_element_by_id("kp-0"))


# --- The AI label ----------------------------------------------------------------------------------


def _label(client, url: str) -> str:
    (label,) = _doc(client, url).xpath("//p[@class='ai-label']")
    return _text(label)


def test_an_ai_summary_an_editor_approved_is_labelled_reviewed(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        assert _label(client, url) == "AI-generated summary, reviewed by an editor"
        transparency = _text(_doc(client, url).xpath("//p[@class='transparency']")[0])
        assert "AI-generated summary (claude-haiku-4-5), reviewed by an editor on" in transparency


def test_an_auto_published_ai_summary_is_labelled_as_published_without_review(client):
    article = factories.make_review_article(summary={"kind": "ai", "producer": "claude-haiku-4-5"})
    article.publish(
        article.latest_summary, automatic=True, reason="auto-publish: trusted source, fully grounded"
    )

    assert (
        _label(client, article.get_absolute_url()) == "AI-generated summary, published without editor review"
    )
    html = client.get(article.get_absolute_url()).content.decode()
    assert "published without editor review on" in html and "reviewed by an editor" not in html


def test_extractive_and_editor_written_summaries_say_what_they_are(client, editor):
    extractive = factories.make_published_article(approved_by=editor)
    assert _label(client, extractive.get_absolute_url()) == (
        "Extractive summary (sentences selected from the original, no AI model), reviewed by an editor"
    )
    written = factories.make_published_article(approved_by=editor)
    edit = Summary.create_version(article=written, **factories.summary_fields(kind="editor", producer="Erin"))
    written.publish(edit, by=editor)
    assert _label(client, written.get_absolute_url()) == "Summary written by an editor"


def test_the_label_comes_before_the_summary_on_both_pages(client, quake):
    story, reports, _ = quake
    for url in _pages(story, reports):
        html = client.get(url).content.decode()
        assert html.index('class="ai-label"') < html.index("Key takeaway") < html.index("3 Key Points")


# --- JSON-LD --------------------------------------------------------------------------------------


def _json_ld(client, url: str) -> list[dict]:
    """The page's JSON-LD as json reads the raw script blocks, checked equal to what extruct
    (a structured-data extractor, on an HTML parser) finds in the page."""
    html = client.get(url).content.decode()
    blocks = [
        json.loads(b) for b in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]
    assert extruct.extract(html, base_url=SITE + url, syntaxes=["json-ld"])["json-ld"] == blocks
    return blocks


def _news(client, url: str) -> dict:
    (news,) = [b for b in _json_ld(client, url) if b["@type"] == "NewsArticle"]
    return news


def test_json_ld_cites_every_source_of_a_story_summary_on_both_pages(client, quake):
    story, reports, _ = quake
    expected = [
        {
            "@type": "NewsArticle",
            "url": r.url,
            "headline": r.title,
            "publisher": {"@type": "Organization", "name": r.source.name},
        }
        for r in reports
    ]
    for url in _pages(story, reports):
        news = _news(client, url)
        assert news["isBasedOn"] == expected, url
        assert news["digitalSourceType"] == IPTC + "trainedAlgorithmicMedia"
        assert news["creator"] == {"@type": "SoftwareApplication", "name": "claude-haiku-4-5"}
        assert news["editor"] == {"@type": "Person", "name": "Erin Editor"}


def test_json_ld_labels_an_auto_published_summary_as_ai_text_without_an_editor(client):
    article = factories.make_review_article(summary={"kind": "ai", "producer": "claude-haiku-4-5"})
    article.publish(article.latest_summary, automatic=True)

    news = _news(client, article.get_absolute_url())

    assert news["digitalSourceType"] == IPTC + "trainedAlgorithmicMedia" and "editor" not in news


def test_json_ld_marks_an_extractive_summary_as_algorithmic_and_an_editors_as_neither(client, editor):
    extractive = factories.make_published_article(approved_by=editor)
    assert _news(client, extractive.get_absolute_url())["digitalSourceType"] == IPTC + "algorithmicMedia"
    edit = Summary.create_version(article=extractive, **factories.summary_fields(kind="editor", producer="E"))
    extractive.publish(edit, by=editor)
    assert "digitalSourceType" not in _news(client, extractive.get_absolute_url())


def test_the_story_page_describes_the_story_at_its_canonical_address(client, quake):
    story, reports, _ = quake
    news = _news(client, story.get_absolute_url())

    assert news["url"] == news["mainEntityOfPage"] == SITE + story.get_absolute_url()
    assert news["headline"] == story.title
    assert news["description"] == reports[0].summaries.order_by("-version").first().key_takeaway
    # Its FAQ is marked up once, on the article page.
    assert [b["@type"] for b in _json_ld(client, story.get_absolute_url())] == ["NewsArticle"]
    assert "FAQPage" in [b["@type"] for b in _json_ld(client, reports[0].get_absolute_url())]
