"""articles/stories/evaluation.py and `manage.py cluster_eval`: labelled articles go through the
production grouping code with the configured settings, and the B-cubed scores are right."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from articles.models import Story
from articles.stories.evaluation import bcubed, evaluate, read_articles
from tests.articles.stories.events import (
    MUSEUM,
    MUSEUM_REWRITE,
    RAIL,
    RAIL_PARAPHRASE,
    RAIL_REWRITE,
    SITE_BANNER,
    WIRE,
)
from tests.fakes.anthropic_server import Reply
from tests.fakes.feed_server import fixtures_dir
from tests.fakes.openai_server import BAG_DIMENSIONS, bag_of_words


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def labelled_events(tmp_path: Path) -> Path:
    rows = [
        ("rail-1", RAIL, "2026-11-02T08:00:00+00:00", "rail"),
        ("museum-1", MUSEUM, "2026-11-02T09:00:00+00:00", "museum"),
        ("rail-2", RAIL_REWRITE, "2026-11-02T10:00:00+00:00", "rail"),
        ("museum-2", MUSEUM_REWRITE, "2026-11-02T11:00:00+00:00", "museum"),
        ("wire-1", WIRE, "2026-11-02T12:00:00+00:00", "wire"),
        ("wire-2", ("Storm closes the northern ports", WIRE[1]), "2026-11-02T12:30:00+00:00", "wire"),
    ]
    return write_lines(
        tmp_path / "events.jsonl",
        [
            {"id": key, "title": title, "text": text, "published": when, "source": key, "cluster": gold}
            for key, (title, text), when, gold in rows
        ],
    )


def test_bcubed_is_one_for_a_perfect_grouping_and_counts_each_article_once():
    assert bcubed("aabbc", "xxyyz").f1 == 1.0
    # Everything in one story: precision is each article's share of same-gold neighbours.
    lumped = bcubed("aab", "xxx")
    assert lumped.recall == 1.0
    assert lumped.precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    # Every article alone: recall falls, precision stays perfect.
    split = bcubed("aab", "xyz")
    assert split.precision == 1.0 and split.recall == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)


def test_cluster_eval_groups_labelled_events_and_writes_each_ids_story(tmp_path):
    output = tmp_path / "stories.jsonl"
    out = StringIO()

    call_command("cluster_eval", str(labelled_events(tmp_path)), output=str(output), stdout=out)

    printed = out.getvalue()
    assert "6 articles → 3 stories (1 copies)" in printed
    assert "B-cubed precision 1.000  recall 1.000  F1 1.000" in printed
    assert "articles/s" in printed
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    story = {row["id"]: row["story"] for row in rows}
    assert [row["id"] for row in rows] == ["rail-1", "museum-1", "rail-2", "museum-2", "wire-1", "wire-2"]
    assert story["rail-1"] == story["rail-2"] != story["museum-1"] == story["museum-2"]
    assert story["wire-1"] == story["wire-2"]


@pytest.mark.django_db
def test_cluster_eval_never_writes_to_the_database(tmp_path):
    call_command("cluster_eval", str(labelled_events(tmp_path)), stdout=StringIO())

    assert not Story.objects.exists()


def test_cluster_eval_follows_the_configured_threshold(tmp_path, settings):
    settings.STORY_SIMILARITY_THRESHOLD = 1.5  # nothing is ever that similar: every original alone
    result = evaluate(read_articles(labelled_events(tmp_path)))

    assert len(set(result.stories.values())) == 5  # copies are found whatever the threshold
    assert result.scores.precision == 1.0 and result.scores.recall < 1.0


def test_without_gold_clusters_cluster_eval_groups_and_says_there_are_no_scores(tmp_path):
    path = write_lines(tmp_path / "plain.jsonl", [{"id": 1, "title": "A", "text": "", "published": None}])
    out = StringIO()

    call_command("cluster_eval", str(path), stdout=out)

    assert "No gold `cluster`" in out.getvalue()


def paraphrase_after_fillers(tmp_path: Path, fillers: int = 120) -> Path:
    """Unrelated bulletins (enough for grouping's embedding warm-up), then the rail event and
    its paraphrase, which shares no title word with it."""
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    rows = [
        {"id": f"f{n}", "title": f"Bulletin x{n:03d}", "text": f"Notice number x{n:03d}.", "cluster": f"f{n}"}
        for n in range(fillers)
    ]
    rows += [
        {"id": "rail", "title": RAIL[0], "text": RAIL[1], "cluster": "rail"},
        {"id": "paraphrase", "title": RAIL_PARAPHRASE[0], "text": RAIL_PARAPHRASE[1], "cluster": "rail"},
    ]
    for n, row in enumerate(rows):
        row["published"] = (start + timedelta(minutes=n)).isoformat()
    return write_lines(tmp_path / "paraphrase.jsonl", rows)


def trams_are_rail(text: str) -> list[float]:
    if "rail" in text.lower() or "tram" in text.lower():
        return [1.0] + [0.0] * (BAG_DIMENSIONS - 1)
    return bag_of_words(text)


def test_cluster_eval_with_embeddings_embeds_in_batches_and_places_with_the_vectors(
    tmp_path, fake_embeddings
):
    fake_embeddings.embedder = trams_are_rail
    path = paraphrase_after_fillers(tmp_path)
    out = StringIO()

    call_command("cluster_eval", str(path), stdout=out)
    with_vectors = evaluate(read_articles(path)).stories

    assert [len(body["input"]) for body in fake_embeddings.requests] == [64, 58, 64, 58]
    assert "weight 0.5: vectors for 122 of 122 articles" in out.getvalue()
    assert with_vectors["rail"] == with_vectors["paraphrase"]
    with override_settings(STORY_EMBEDDINGS_URL=""):
        alone = evaluate(read_articles(path)).stories
    assert alone["rail"] != alone["paraphrase"]


def test_cluster_eval_embeds_each_batch_without_what_its_sites_printed_before(
    tmp_path, fake_embeddings, settings
):
    settings.STORY_EMBEDDINGS_BATCH_SIZE = 1
    rows = [
        {"id": n, "title": title, "text": SITE_BANNER + text, "published": f"2026-11-02T0{8 + n}:00:00+00:00"}
        for n, (title, text) in enumerate([RAIL, MUSEUM])
    ]
    path = write_lines(tmp_path / "site.jsonl", [{**row, "source": "site"} for row in rows])

    evaluate(read_articles(path))

    # As production embeds an article just before placing it: the banner is the site's own
    # once its first page was placed.
    first, second = fake_embeddings.embedding_inputs
    assert "We use cookies" in first
    assert "cookies" not in second and second.startswith(f"{MUSEUM[0]}\n{MUSEUM[1][:40]}")


def test_cluster_eval_groups_by_tfidf_alone_when_the_endpoint_fails(tmp_path, fake_embeddings, caplog):
    fake_embeddings.embedding_script.append(Reply(500, {"error": {"message": "out of memory"}}))
    out = StringIO()

    call_command("cluster_eval", str(labelled_events(tmp_path)), stdout=out)

    printed = out.getvalue()
    assert "vectors for 0 of 6 articles" in printed
    assert "B-cubed precision 1.000  recall 1.000  F1 1.000" in printed
    assert "HTTP 500" in caplog.text


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: not a JSON object"),
        ('{"id": "a", "title": "again"}', "line 2: `id` must be a unique"),
        ('{"id": "b", "title": "T", "published": "yesterday"}', "line 2: `published` is not an ISO 8601"),
    ],
)
def test_a_bad_line_stops_cluster_eval_with_its_number_and_why(tmp_path, line, error):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "title": "First"}\n' + line + "\n")

    with pytest.raises(CommandError, match=error):
        call_command("cluster_eval", str(path), stdout=StringIO())


def test_times_without_a_zone_are_read_as_utc_and_a_byte_order_mark_is_skipped(tmp_path):
    path = tmp_path / "naive.jsonl"
    lines = [
        '{"id": 1, "title": "Quake hits the city", "published": "2026-11-02T08:00:00", "cluster": "q"}',
        '{"id": 2, "title": "Quake hits the city again", "published": "2026-11-02T09:00:00Z", "cluster": "q"}',
        '{"id": 3, "title": "Cup final tonight", "text": null, "published": "2026-11-02T07:00:00", "cluster": "c"}',
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    out = StringIO()

    call_command("cluster_eval", str(path), "--output", str(tmp_path / "out.jsonl"), stdout=out)

    assert "2 `published` times had no time zone: read as UTC." in out.getvalue()
    assert "3 articles" in out.getvalue()
    stories = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["id"] for row in stories] == [1, 2, 3]


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("cluster_eval", str(tmp_path / "absent.jsonl"), stdout=StringIO())


@pytest.mark.parametrize(
    ("name", "floor"),
    [("uci-news-aggregator-5k.jsonl", 0.85), ("allsides-roundups-dev.jsonl", 0.80)],
)
def test_the_default_settings_keep_their_measured_quality_on_the_shared_labelled_data(name, floor):
    """A regression floor a little under the figures in docs/stories.md, not the goal."""
    fixtures = fixtures_dir()
    if fixtures is None or not (fixtures / "stories" / name).exists():
        pytest.skip(f"{name} is not there (../shared/fixtures/stories)")
    path = fixtures / "stories" / name

    result = evaluate(read_articles(path))

    assert result.scores.f1 >= floor
