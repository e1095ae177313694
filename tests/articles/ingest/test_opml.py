"""articles/ingest/opml.py: the one OPML reader (size cap, no DTD, a lenient scan that stays
linear) and the import's categories. The command and the admin upload: test_commands.py and
test_admin.py."""

from __future__ import annotations

import io
import time

import pytest

from articles.ingest import opml
from articles.ingest.opml import opml_export, opml_import, opml_outlines
from articles.ingest.parse import FeedError, UnsafeFeed
from articles.models import Source, Topic
from tests import factories

pytestmark = pytest.mark.django_db


def make_topic(slug: str, name: str = "") -> Topic:
    return Topic.objects.create(slug=slug, name=name or slug.replace("-", " ").title())


def topics_of(feed_url: str) -> list[str]:
    return sorted(Source.objects.get(feed_url=feed_url).topics.values_list("slug", flat=True))


# --- Bounded cost -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        # The shape from the issue: 104 KB, 12.8 s through the admin upload.
        '<opml><body><outline title="x" ' + 'xmlUrl="a" b"' * 8000 + "x></body>",
        "<opml><body><outline title='x' " + "xmlUrl='a' b'" * 8000 + "x></body>",
        '<opml><body><outline title="x" ' + 'text="a" b="' * 8000 + "x></body>",
        "<opml><body>&<outline " + "a" * 100_000 + "></body>",
        '<opml><body>&<outline title="' + " t=" * 30_000 + "></body>",
    ],
    ids=["unbalanced-double-quotes", "unbalanced-single-quotes", "value-lookalikes", "long-name", "equals"],
)
def test_a_broken_outline_line_is_read_within_a_second(line):
    started = time.monotonic()
    opml_outlines(line.encode())
    assert time.monotonic() - started < 1, "reading the outline took a second or more"


def test_the_lenient_scan_keeps_raw_ampersands_and_inner_quotes():
    broken = (
        b'<opml><body><outline text="Science & Nature">'
        b'<outline text="The "Best" Blog" title="The "Best" Blog" xmlUrl="https://a.example.org/f?x=1&y=2" '
        b'description="<p>raw</p> & more"/>'
        b"<outline text='Single' xmlUrl='https://b.example.org/feed'/>"
        b"</outline></body></opml>"
    )
    outlines = opml_outlines(broken)
    assert [(o.title, o.url, o.categories) for o in outlines] == [
        ('The "Best" Blog', "https://a.example.org/f?x=1&y=2", ["Science & Nature"]),
        ("Single", "https://b.example.org/feed", ["Science & Nature"]),
    ]


def test_files_over_the_cap_are_refused_unread():
    too_big = io.BytesIO(b" " * (opml.OPML_MAX_BYTES + 1))
    with pytest.raises(FeedError, match="larger than 5 MB"):
        opml.opml_read(too_big)
    assert too_big.tell() == opml.OPML_MAX_BYTES + 1  # read up to the cap, not to the end
    with pytest.raises(FeedError, match="larger than 5 MB"):
        opml_import(content=b" " * (opml.OPML_MAX_BYTES + 1))


# --- No DTD, anywhere ---------------------------------------------------------------------------

OUTLINES = (
    '<opml version="2.0"><body><outline text="Good" xmlUrl="https://good.example.org/feed"/>'
    '<outline text="&lol;" xmlUrl="https://lol.example.org/feed"/></body></opml>'
)


@pytest.mark.parametrize(
    "document",
    [
        # An internal entity after 64 KiB of padding: it named a source "lol..." before.
        (
            '<?xml version="1.0"?>' + " " * 70_000 + '<!DOCTYPE opml [<!ENTITY lol "lollol">]>' + OUTLINES
        ).encode(),
        (
            '<?xml version="1.0"?><!--'
            + "x" * 2_000_000
            + '--><!DOCTYPE opml [<!ENTITY lol "lol">]>'
            + OUTLINES
        ).encode(),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY lol "lol">]>' + OUTLINES).encode(
            "utf-16"
        ),
        ('<?xml version="1.0"?><!DOCTYPE opml SYSTEM "opml.dtd">' + OUTLINES.replace("&lol;", "x")).encode(),
        # Broken XML (raw "&") goes to the lenient scan: the DTD is refused there too.
        ('<!DOCTYPE opml [<!ENTITY lol "lol">]>' + OUTLINES.replace("Good", "Good & bad")).encode(),
    ],
    ids=["entity-after-64k-padding", "entity-after-2mb-comment", "utf-16", "external-dtd-only", "broken-xml"],
)
def test_any_dtd_is_refused_and_nothing_is_imported(document):
    with pytest.raises(UnsafeFeed):
        opml_import(content=document)
    assert not Source.objects.exists()


# --- Categories ---------------------------------------------------------------------------------


def test_our_own_export_round_trips_with_every_topic():
    ai, chips, policy = make_topic("ai-models"), make_topic("chips"), make_topic("policy")
    wanted = {
        "https://a.example.org/feed": [ai, chips],
        "https://b.example.org/feed": [chips],
        "https://c.example.org/feed": [],
        "https://d.example.org/feed": [ai, policy, chips],
    }
    for i, (url, topics) in enumerate(wanted.items()):
        factories.make_source(name=f"Feed {i}", feed_url=url).topics.set(topics)
    exported = opml_export().encode()
    assert b'category="ai-models,chips"' in exported
    Source.objects.all().delete()

    report = opml_import(content=exported)

    assert (len(report.added), report.unknown_categories) == (4, {})
    for url, topics in wanted.items():
        assert topics_of(url) == sorted(t.slug for t in topics)


def test_a_comma_separated_category_list_files_the_feed_under_each_topic():
    make_topic("science"), make_topic("open-source", "Open Source")
    document = (
        b'<opml version="2.0"><body>'
        b'<outline text="A" xmlUrl="https://a.example.org/feed" category="science,open-source"/>'
        b'<outline text="B" xmlUrl="https://b.example.org/feed" category="Science, Open Source"/>'
        b'<outline text="C" xmlUrl="https://c.example.org/feed" category="/Science/Open Source"/>'
        b"</body></opml>"
    )
    opml_import(content=document)
    for feed in "abc":
        assert topics_of(f"https://{feed}.example.org/feed") == ["open-source", "science"]


@pytest.mark.parametrize("broken", [False, True], ids=["strict-xml", "lenient-scan"])
def test_nested_folders_file_a_feed_under_every_folder_it_sits_in(broken):
    make_topic("tech"), make_topic("ai", "AI"), make_topic("science")
    amp = "&" if broken else "&amp;"
    document = (
        '<opml version="2.0"><body>'
        '<outline text="Tech"><outline text="AI">'
        f'<outline text="Deep {amp} wide" xmlUrl="https://deep.example.org/feed"/>'
        "</outline>"
        '<outline text="Gadgets" xmlUrl="https://gadgets.example.org/feed"/>'
        "</outline>"
        '<outline text="Science"><outline text="Lab" xmlUrl="https://lab.example.org/feed"/></outline>'
        '<outline text="Loose" xmlUrl="https://loose.example.org/feed"/>'
        "</body></opml>"
    ).encode()
    report = opml_import(content=document)
    assert report.unknown_categories == {}
    assert topics_of("https://deep.example.org/feed") == ["ai", "tech"]
    assert topics_of("https://gadgets.example.org/feed") == ["tech"]
    assert topics_of("https://lab.example.org/feed") == ["science"]
    assert topics_of("https://loose.example.org/feed") == []


def test_categories_that_name_no_topic_are_reported_with_their_feed_counts():
    make_topic("science")
    document = (
        b'<opml version="2.0"><body><outline text="Quantum">'
        b'<outline text="A" xmlUrl="https://a.example.org/feed" category="science,Quantum Computing"/>'
        b'<outline text="B" xmlUrl="https://b.example.org/feed"/>'
        b"</outline></body></opml>"
    )
    report = opml_import(content=document)
    assert report.unknown_categories == {"Quantum": 1, "Quantum Computing": 1}
    assert report.created_topics == []
    assert list(Topic.objects.values_list("slug", flat=True)) == ["science"]
    assert topics_of("https://a.example.org/feed") == ["science"]


def test_create_topics_makes_a_topic_for_each_unknown_category_and_files_the_feeds():
    document = (
        b'<opml version="2.0"><body>'
        b'<outline text="A" xmlUrl="https://a.example.org/feed" category="Quantum Computing,science"/>'
        b'<outline text="B" xmlUrl="https://b.example.org/feed" category="quantum-computing"/>'
        b"</body></opml>"
    )
    report = opml_import(content=document, create_topics=True)
    assert (report.created_topics, report.unknown_categories) == (["quantum-computing", "science"], {})
    assert Topic.objects.get(slug="quantum-computing").name == "Quantum Computing"
    assert topics_of("https://a.example.org/feed") == ["quantum-computing", "science"]
    assert topics_of("https://b.example.org/feed") == ["quantum-computing"]


def test_a_present_feed_only_gains_the_topics_it_lacks():
    science, space = make_topic("science"), make_topic("space")
    source = factories.make_source(name="Kept name", feed_url="https://a.example.org/feed")
    source.topics.set([space])
    document = (
        b'<opml version="2.0"><body>'
        b'<outline text="New name" xmlUrl="https://a.example.org/feed" category="science"/>'
        b"</body></opml>"
    )
    report = opml_import(content=document)
    assert (report.added, report.present, report.tagged) == ([], [source.feed_url], [source.feed_url])
    source.refresh_from_db()
    assert source.name == "Kept name"
    assert set(source.topics.all()) == {science, space}
    assert opml_import(content=document).tagged == []  # the second time there is nothing to add
