"""articles/reader/views.py: anatomy in order, visibility rules, SEO tags, 404s for unknown slugs.

Health check and 500/503 pages: tests/newsroom/test_views.py."""

from __future__ import annotations

import json
import re
import struct
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from articles.models import Article, Summary
from comments.models import Comment
from tests import factories

pytestmark = pytest.mark.django_db


def _ordered(html: str, *needles: str) -> bool:
    """True when every needle occurs in the page body, in this order."""
    html = html[max(html.find("<main"), 0) :]
    positions = [html.find(n) for n in needles]
    return -1 not in positions and positions == sorted(positions)


@pytest.fixture
def story(editor):
    topic = factories.make_topic("Transport")
    article = factories.make_published_article(
        approved_by=editor, title="Council approves light-rail line", url="https://city.example.com/rail"
    )
    article.topics.add(topic)
    return article


def _unpublished_articles() -> list[Article]:
    draft = factories.make_article(title="Draft about trams", status=Article.Status.IN_REVIEW)
    Summary.create_version(article=draft, **factories.summary_fields())
    rejected = factories.make_article(title="Rejected about trams", status=Article.Status.REJECTED)
    scheduled = factories.make_published_article(title="Scheduled about trams")
    scheduled.published_on_site_at = timezone.now() + timedelta(days=1)
    scheduled.save(update_fields=["published_on_site_at"])
    return [draft, rejected, scheduled]


def test_article_page_shows_the_anatomy_in_order(client, story):
    html = client.get(story.get_absolute_url()).content.decode()
    assert _ordered(
        html,
        "<h1>Council approves light-rail line</h1>",
        'href="https://city.example.com/rail"',
        "<time datetime=",
        "min read",
        "Key takeaway",
        "3 Key Points",
        "What happened",
        "Why it matters",
        "What to watch",
        "<details",
        "How much will it cost?",
        "reviewed by an editor on",
        "Read the original at",
        "Discussion",
        "newsletter-cta",
    )
    assert html.count("<h1") == 1
    assert "No comments yet. Be the first to share your thoughts!" in html
    assert "Log in to join the discussion" in html


def test_transparency_line_names_the_model_and_the_correction(client, editor):
    article = factories.make_published_article(approved_by=editor)
    ai = Summary.create_version(
        article=article, **factories.summary_fields(kind="ai", producer="claude-haiku-4-5")
    )
    article.publish(ai, by=editor)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "AI-generated summary (claude-haiku-4-5)" in html
    assert "reviewed by an editor on" in html
    assert "corrected on" in html


def test_an_editor_edited_summary_says_so(client, editor):
    article = factories.make_published_article(approved_by=editor)
    edit = Summary.create_version(article=article, **factories.summary_fields(kind="editor", producer="Erin"))
    article.publish(edit, by=editor)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "edited by an editor" in html


def test_relative_times_are_rendered_as_absolute_dates_for_the_script(client, story):
    html = client.get("/").content.decode()
    match = re.search(r'<time datetime="([^"]+)" data-relative[^>]*>([^<]+)</time>', html)
    assert match, "cards carry a machine-readable time"
    assert "ago" not in match.group(2)  # a cached page never states an age
    assert "/static/js/reltime" in html


def test_home_cards_show_source_takeaway_topics_and_comment_count(client, story, reader):
    Comment.objects.create(article=story, author=reader, body="Good news")
    Comment.objects.create(article=story, author=reader, body="Hidden", status=Comment.Status.HELD)
    html = client.get("/").content.decode()
    assert story.title in html
    assert story.source.name in html
    assert "The council approved a 2.4 billion dollar light-rail line" in html
    assert 'href="/topics/transport/"' in html
    assert "1 comment" in html and "2 comments" not in html
    assert "5 min read" not in html and "1 min read" in html


def test_home_paginates(client):
    source = factories.make_source()
    for _ in range(25):
        factories.make_published_article(source=source)
    first = client.get("/").content.decode()
    second = client.get("/?page=2").content.decode()
    assert first.count('class="card"') == 20
    assert second.count('class="card"') == 5
    assert "Page 2 of 2" in second


class _Forms(HTMLParser):
    """Each <form> on a page: its attributes and the (name, attributes) of its inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append({"attrs": dict(attrs), "inputs": []})
        elif tag in ("input", "button", "textarea", "select") and self.forms:
            self.forms[-1]["inputs"].append(dict(attrs))


def _subscribe_form(html: str) -> dict:
    forms = _Forms()
    forms.feed(html)
    forms.close()
    (form,) = [f for f in forms.forms if f["attrs"].get("action") == "/newsletter/subscribe/"]
    return form


@pytest.mark.parametrize("url", ["/", "/topics/transport/"])
def test_the_home_and_topic_pages_offer_the_digest_sign_up_that_works_from_their_cached_copy(
    client, story, url
):
    from newsletter.models import Subscriber

    first = client.get(url)
    cached = client.get(url)
    assert cached["X-Page-Cache"] == "hit"
    assert cached.content == first.content

    form = _subscribe_form(cached.content.decode())
    assert form["attrs"]["method"] == "post"
    names = [i.get("name") for i in form["inputs"]]
    assert "csrfmiddlewaretoken" not in names and "email" in names
    transport = [i for i in form["inputs"] if i.get("name") == "topics" and i.get("value") == "transport"]
    assert len(transport) == 1
    assert ("checked" in transport[0]) == (url == "/topics/transport/")

    # A browser posting the cached form has no CSRF cookie or token, and must still get in.
    response = Client(enforce_csrf_checks=True).post(
        form["attrs"]["action"], {"email": "home.reader@example.com", "topics": ["transport"]}
    )
    assert response.status_code == 200
    subscriber = Subscriber.objects.get(email="home.reader@example.com")
    assert [t.slug for t in subscriber.topics.all()] == ["transport"]


def test_topic_and_source_pages_list_only_their_articles(client, story):
    other = factories.make_published_article(title="Unrelated harbour story")
    topic_html = client.get("/topics/transport/").content.decode()
    assert story.title in topic_html and other.title not in topic_html
    source_html = client.get(f"/sources/{other.source.slug}/").content.decode()
    assert other.title in source_html and story.title not in source_html
    assert client.get(f"/sources/{other.source.pk}/").status_code == 200


def test_related_articles_share_a_topic_newest_first_and_at_most_four(client, story):
    topic = story.topics.get()
    related = []
    for n in range(6):
        article = factories.make_published_article(title=f"Rail follow-up {n}")
        article.published_on_site_at = timezone.now() - timedelta(hours=n + 1)
        article.save(update_fields=["published_on_site_at"])
        article.topics.add(topic)
        related.append(article)
    unrelated = factories.make_published_article(title="Unrelated harbour story")
    hidden = _unpublished_articles()
    for article in hidden:
        article.topics.add(topic)
    html = client.get(story.get_absolute_url()).content.decode()
    section = html[html.index("Related articles") :]
    assert _ordered(section, *(a.title for a in related[:4]))
    assert related[4].title not in section
    assert unrelated.title not in section
    for article in hidden:
        assert article.title not in section


def test_unpublished_articles_are_invisible_on_every_page(client, story):
    hidden = _unpublished_articles()
    for article in hidden:
        article.topics.add(story.topics.get())
        assert client.get(article.get_absolute_url()).status_code == 404
    pages = ["/", "/topics/transport/", "/search/?q=trams", "/corrections/"]
    for url in pages:
        html = client.get(url).content.decode()
        for article in hidden:
            assert article.title not in html, url


def test_article_page_has_canonical_opengraph_and_twitter_tags(client, story):
    html = client.get(story.get_absolute_url()).content.decode()
    url = f"http://127.0.0.1:8000{story.get_absolute_url()}"
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:title" content="Council approves light-rail line">' in html
    assert '<meta name="twitter:card" content="summary">' in html


class _JsonLdScripts(HTMLParser):
    """The text of every <script type="application/ld+json">, as a browser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open = tag == "script" and ("type", "application/ld+json") in attrs
        if self._open:
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.blocks[-1] += data


def _json_ld_blocks(html: str) -> list[dict]:
    scripts = _JsonLdScripts()
    scripts.feed(html)
    scripts.close()
    return [json.loads(block) for block in scripts.blocks]


def _news_article(client, article: Article) -> dict:
    blocks = _json_ld_blocks(client.get(article.get_absolute_url()).content.decode())
    (news,) = [b for b in blocks if b["@type"] == "NewsArticle"]
    return news


def _png_size(client, url: str) -> tuple[int, int]:
    """The pixel size in the PNG header of the file the site serves at `url`."""
    assert url.startswith("http://127.0.0.1:8000/static/"), url
    response = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200, url
    data = b"".join(response.streaming_content)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", url
    return struct.unpack(">II", data[16:24])


def test_json_ld_describes_a_news_article_and_its_faq(client, story):
    blocks = _json_ld_blocks(client.get(story.get_absolute_url()).content.decode())
    by_type = {b["@type"]: b for b in blocks}
    news = by_type["NewsArticle"]
    for field in ("headline", "datePublished", "dateModified", "author", "publisher", "url", "description"):
        assert news[field], field
    assert news["isBasedOn"]["url"] == "https://city.example.com/rail"
    faq = by_type["FAQPage"]
    assert faq["mainEntity"][0]["@type"] == "Question"
    assert faq["mainEntity"][0]["acceptedAnswer"]["text"] == "2.4 billion dollars over seven years."


def test_json_ld_says_who_wrote_the_summary_and_who_wrote_the_original(client, editor):
    source = factories.make_source(name="City Gazette", site_url="https://gazette.example.com/")
    article = factories.make_article(
        source=source,
        status=Article.Status.IN_REVIEW,
        title="Council approves light-rail line",
        url="https://gazette.example.com/rail",
        author="Jane Reporter",
    )
    summary = Summary.create_version(
        article=article, **factories.summary_fields(kind="ai", producer="claude-haiku-4-5")
    )
    article.publish(summary, by=editor)

    news = _news_article(client, article)

    site = {"@type": "Organization", "name": "Newsroom", "url": "http://127.0.0.1:8000"}
    gazette = {"@type": "Organization", "name": "City Gazette", "url": "https://gazette.example.com/"}
    assert news["author"] == site
    assert news["creator"] == {"@type": "SoftwareApplication", "name": "claude-haiku-4-5"}
    assert (
        news["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    )
    assert news["editor"] == {"@type": "Person", "name": "Erin Editor"}
    assert news["isBasedOn"] == {
        "@type": "CreativeWork",
        "url": "https://gazette.example.com/rail",
        "headline": "Council approves light-rail line",
        "author": {"@type": "Person", "name": "Jane Reporter"},
        "publisher": gazette,
    }
    # The reporter is credited with the original only, never with the AI summary.
    assert "Jane Reporter" not in json.dumps({k: v for k, v in news.items() if k != "isBasedOn"})


def test_json_ld_credits_the_source_when_the_original_names_no_reporter_and_no_editor_when_none_approved(
    client,
):
    article = factories.make_published_article(source=factories.make_source(name="Wire Service"))

    news = _news_article(client, article)

    assert news["isBasedOn"]["author"]["@type"] == "Organization"
    assert news["isBasedOn"]["author"]["name"] == "Wire Service"
    assert news["creator"]["@type"] == "SoftwareApplication"
    assert "editor" not in news


def test_json_ld_gives_the_sites_image_when_the_article_has_none_and_the_publishers_logo(client):
    article = factories.make_published_article(lead_image_url="")

    news = _news_article(client, article)

    (image,) = news["image"]
    assert image["@type"] == "ImageObject"
    assert _png_size(client, image["url"]) == (image["width"], image["height"])
    assert image["width"] >= 1200 and image["width"] * image["height"] >= 50_000
    logo = news["publisher"]["logo"]
    assert logo["@type"] == "ImageObject"
    assert _png_size(client, logo["url"]) == (logo["width"], logo["height"])
    html = client.get(article.get_absolute_url()).content.decode()
    assert f'<meta property="og:image" content="{image["url"]}">' in html


def test_json_ld_uses_the_articles_own_lead_image_when_it_has_one(client):
    article = factories.make_published_article(lead_image_url="https://img.example.com/rail.jpg")

    assert _news_article(client, article)["image"] == ["https://img.example.com/rail.jpg"]


@pytest.mark.parametrize(
    "title",
    [
        "Council approves light-rail line " * 6,  # many words, over the limit
        "word " * 21 + "abcdefghijklmnopqrstuvwxyz",  # the limit falls inside a long last word
        "x" * 108 + " yy",  # one word fills nearly all of it
        "Supercalifragilistic" * 10,  # no word boundary at all
        "Budget: " + "a, " * 40,  # punctuation at the cut
    ],
    ids=["words", "long-last-word", "one-long-word", "no-boundary", "punctuation"],
)
def test_json_ld_headline_is_cut_at_a_word_boundary_within_110_characters(client, title):
    article = factories.make_published_article(title=title)

    headline = _news_article(client, article)["headline"]

    assert len(headline) <= 110 and headline.endswith("…")
    kept = headline.removesuffix("…")
    normalized = " ".join(title.split())
    assert normalized.startswith(kept) and kept.rstrip() == kept and kept[-1] not in ",;:"
    if " " in normalized[:109]:
        assert normalized[len(kept)] in " ,;:"  # whole words only


def test_json_ld_headline_keeps_a_title_of_110_characters_whole(client):
    title = ("Council approves light-rail line " * 4)[:109] + "X"
    assert len(title) == 110
    article = factories.make_published_article(title=title)

    assert _news_article(client, article)["headline"] == title


def test_json_ld_cannot_break_out_of_its_script_element(client, editor):
    article = factories.make_published_article(title="</script><script>alert(1)</script> & more")
    html = client.get(article.get_absolute_url()).content.decode()
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert blocks and all("<" not in b for b in blocks)
    assert json.loads(blocks[0])["headline"].startswith("</script>")


def test_pages_carry_a_self_only_csp_and_no_inline_script_or_style(client, story):
    pages = [
        "/",
        story.get_absolute_url(),
        story.story.get_absolute_url(),
        "/search/?q=rail",
        "/topics/transport/",
    ]
    for url in [*pages, "/corrections/"]:
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "nonce" not in csp
        html = response.content.decode()
        assert " style=" not in html and "<style" not in html
        for script in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
            attrs, body = script
            assert 'type="application/ld+json"' in attrs or (" src=" in attrs and not body.strip())
        # Every script, stylesheet and icon comes from this site: no CDN, font or tracker.
        assets = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(
            r'<link rel="(?:stylesheet|icon)" href="([^"]+)"', html
        )
        assert len(assets) >= 3
        assert all(url.startswith("/static/") for url in assets), assets


def test_unknown_slugs_give_the_styled_404(client):
    for url in ["/a/no-such-article/", "/topics/no-such-topic/", "/sources/nope/", "/topics/nope/feed/"]:
        response = client.get(url)
        assert response.status_code == 404, url
    html = client.get("/a/no-such-article/").content.decode()
    assert "Page not found" in html and "/static/css/site" in html


def test_corrections_log_says_what_changed_in_plain_words(client, editor):
    article = factories.make_published_article(approved_by=editor, title="Bridge closure story")
    fields = factories.summary_fields(kind="editor", producer="Erin", editor_note="The cost was wrong.")
    fields["key_points"][1]["text"] = "Commutes could fall by a third."
    fields["faq"] = fields["faq"] + [{"question": "When?", "answer": "In spring.", "evidence": []}]
    article.publish(Summary.create_version(article=article, **fields), by=editor)
    unchanged = factories.make_published_article(title="Never corrected")
    html = client.get("/corrections/").content.decode()
    assert "Bridge closure story" in html
    assert "The “Why it matters” key point was changed; 1 FAQ question(s) added." in html
    assert "The cost was wrong." in html
    assert unchanged.title not in html


def test_robots_txt_points_at_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in response.content.decode()
    assert "Disallow: /admin/" in response.content.decode()
