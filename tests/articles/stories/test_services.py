"""articles/stories/services.py: article_group places each extracted article once, as a copy,
into the same event's story or into a story of its own; bad input never glues unrelated
articles; the cost of one placement does not grow with the archive."""

from __future__ import annotations

import logging
import socket
import time
from array import array
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import (
    Article,
    AuditEntry,
    CopyBand,
    EmbeddingCount,
    RecentTerm,
    Story,
    StoryTerm,
    TermCount,
    story_changed,
)
from articles.stories import embeddings, services
from articles.stories import fingerprint as fp
from articles.stories.similarity import term_counts
from articles.stories.store import DatabaseStore
from tests import factories
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
from tests.fakes.openai_server import bag_of_words

pytestmark = pytest.mark.django_db


def report(event: tuple[str, str], *, hours: float = 0, **fields) -> Article:
    """An outlet's extracted article about `event`, published `hours` after a fixed moment."""
    title, text = event
    published = timezone.now() - timedelta(days=10) + timedelta(hours=hours)
    return factories.make_ungrouped_article(
        title=title, extracted_text=text, published_at=published, **fields
    )


def group(article: Article) -> services.GroupOutcome:
    outcome = services.article_group(article=article)
    article.refresh_from_db()
    return outcome


def test_two_outlets_reporting_the_same_event_in_their_own_words_share_one_story():
    first, second = report(RAIL), report(RAIL_REWRITE, hours=2)

    started, joined = group(first), group(second)

    assert started.created and not joined.created
    assert first.story_id == second.story_id == started.story_id
    assert joined.copy_of is None and second.duplicate_of_id is None
    story = Story.objects.get(pk=started.story_id)
    assert (story.article_count, story.source_count) == (2, 2)
    assert story.lead_id == first.pk and story.title == RAIL[0]  # first reported by the first outlet


def test_articles_about_different_events_start_stories_of_their_own():
    rail, museum = report(RAIL), report(MUSEUM, hours=1)
    rail_again, museum_again = report(RAIL_REWRITE, hours=2), report(MUSEUM_REWRITE, hours=3)

    for article in (rail, museum, rail_again, museum_again):
        group(article)

    assert rail.story_id == rail_again.story_id != museum.story_id == museum_again.story_id
    assert Story.objects.count() == 2


def test_an_article_about_the_same_event_three_days_later_starts_a_new_story(settings):
    settings.STORY_WINDOW_HOURS = 48
    first, late = report(RAIL), report(RAIL_REWRITE, hours=72)

    group(first)
    outcome = group(late)

    assert outcome.created and late.story_id != first.story_id


@pytest.mark.parametrize(
    "window_hours, joins",
    [pytest.param(2, False, id="window-2h"), pytest.param(None, True, id="default-window")],
)
def test_a_rewrite_three_hours_later_joins_only_a_story_seen_within_the_window(window_hours, joins):
    # Three hours of quiet barely decay the score (a half-life of 24 hours), so what keeps the
    # rewrite out with a 2-hour window is the window itself; with the default it joins.
    first, rewrite = report(RAIL), report(RAIL_REWRITE, hours=3)
    window = {} if window_hours is None else {"STORY_WINDOW_HOURS": window_hours}

    with override_settings(**window):
        group(first)
        outcome = group(rewrite)

    assert outcome.created is not joins
    assert (rewrite.story_id == first.story_id) is joins
    assert Story.objects.count() == (1 if joins else 2)


def test_a_wire_text_republished_by_a_second_outlet_is_a_copy_in_the_originals_story():
    original = report(WIRE)
    copy = report(("Ports shut as storm hits the north", WIRE[1]), hours=1)

    group(original)
    outcome = group(copy)

    assert outcome.copy_of == original.pk and outcome.score == 1.0
    assert copy.duplicate_of_id == original.pk and copy.story_id == original.story_id
    assert copy.status == Article.Status.EXTRACTED  # copies wait in extracted, never summarised
    assert not Article.objects.due_for_summary().filter(pk=copy.pk).exists()
    story = Story.objects.get(pk=original.story_id)
    assert (story.article_count, story.source_count, story.lead_id) == (2, 2, original.pk)
    # A copy is not an independent document: the word counts see the wire text once.
    assert TermCount.objects.get(term="").documents == 1
    assert not CopyBand.objects.filter(article=copy).exists()


def test_an_exact_duplicate_marked_by_extraction_joins_its_originals_story_as_a_copy():
    original = report(MUSEUM)
    group(original)
    duplicate = report(MUSEUM, hours=1, duplicate_of=original)

    outcome = group(duplicate)

    assert outcome.copy_of == original.pk
    assert duplicate.story_id == original.story_id and duplicate.duplicate_of_id == original.pk


def test_an_article_that_already_has_a_summary_is_never_made_a_copy():
    original = report(WIRE)
    group(original)
    summarised = report(WIRE, hours=1, status=Article.Status.IN_REVIEW)

    outcome = group(summarised)

    assert outcome.copy_of is None and summarised.duplicate_of_id is None
    assert summarised.story_id == original.story_id  # still the same event


def test_grouping_an_article_twice_changes_nothing_the_second_time():
    article = report(RAIL)
    first = group(article)
    counts = Story.objects.count(), StoryTerm.objects.count(), TermCount.objects.get(term="").documents

    again = group(article)

    assert not again.placed and again.story_id == first.story_id
    assert (
        Story.objects.count(),
        StoryTerm.objects.count(),
        TermCount.objects.get(term="").documents,
    ) == counts


def test_an_article_still_new_is_not_grouped():
    article = factories.make_ungrouped_article(status=Article.Status.NEW)

    with pytest.raises(ValueError, match="not extracted"):
        services.article_group(article=article)
    article.refresh_from_db()
    assert article.story_id is None


def test_an_article_whose_extraction_failed_gets_a_story_from_its_title_and_feed_summary():
    first = report(MUSEUM)
    group(first)
    failed = factories.make_ungrouped_article(
        title=MUSEUM_REWRITE[0],
        extracted_text="",
        feed_summary=MUSEUM_REWRITE[1],
        published_at=first.published_at + timedelta(hours=1),
        status=Article.Status.FAILED,
    )

    outcome = group(failed)

    assert outcome.placed and failed.story_id == first.story_id


def test_grouping_into_a_story_an_editor_shaped_keeps_the_editors_lead():
    first, second = report(RAIL), report(RAIL_REWRITE, hours=1)
    group(first)
    group(second)
    Story.objects.filter(pk=first.story_id).update(lead=second, editor_locked=True)

    group(report(("Council's light-rail line across the river: what we know", RAIL[1]), hours=2))

    story = Story.objects.get(pk=first.story_id)
    assert story.article_count == 3 and story.lead_id == second.pk


def test_placing_an_article_tells_the_story_listeners():
    heard: list[list[int]] = []

    def listener(sender, story_ids, **kwargs):
        heard.append(story_ids)

    story_changed.connect(listener)
    try:
        outcome = group(report(RAIL))
    finally:
        story_changed.disconnect(listener)
    assert heard == [[outcome.story_id]]


def test_a_report_that_fits_two_fragments_of_one_event_merges_them_and_the_audit_names_the_articles_moved():
    vote = report(RAIL)
    # No word of its title indexes the vote's story: it starts a fragment of its own.
    fragment = report(RAIL_PARAPHRASE, hours=1)
    group(vote)
    group(fragment)
    assert vote.story_id != fragment.story_id

    bridge = report(("Council approves trams across the river", RAIL_REWRITE[1]), hours=2)
    outcome = group(bridge)

    assert outcome.story_id == vote.story_id
    assert Story.objects.get(pk=fragment.story_id).merged_into_id == vote.story_id
    entry = AuditEntry.objects.get(action="story_merge")
    # The shape of an editor's merge (articles/desk/stories.py), by the system.
    assert entry.automatic and entry.actor is None and entry.article == bridge
    assert entry.details == {
        "from_story": fragment.story_id,
        "to_story": vote.story_id,
        "articles": [fragment.pk],
    }


def test_the_sweep_finds_articles_a_dead_worker_left_without_a_story():
    long_ago = timezone.now() - timedelta(hours=1)
    stranded = factories.make_ungrouped_article(status_changed_at=long_ago)
    factories.make_ungrouped_article()  # just extracted: its own task is grouping it
    factories.make_ungrouped_article(status=Article.Status.NEW, status_changed_at=long_ago)
    factories.make_article(status_changed_at=long_ago)  # grouped

    assert services.articles_ungrouped(older_than_seconds=900) == [stranded.pk]


def test_pruning_drops_index_rows_older_than_the_kept_days_only(settings):
    settings.STORY_WINDOW_HOURS = 48
    old, recent = report(RAIL, hours=0), report(MUSEUM, hours=1)
    group(old)
    group(recent)
    StoryTerm.objects.filter(story_id=old.story_id).update(last_seen_at=timezone.now() - timedelta(days=40))
    CopyBand.objects.filter(article=old).update(published_at=timezone.now() - timedelta(days=40))
    RecentTerm.objects.filter(article=old).update(published_at=timezone.now() - timedelta(days=40))
    old_terms = RecentTerm.objects.filter(article=old).count()

    deleted = services.story_index_prune(older_than=timedelta(days=30))

    assert deleted["story_terms"] > 0 and deleted["copy_bands"] == fp.BANDS
    assert deleted["recent_terms"] == old_terms > 1
    assert RecentTerm.objects.filter(article=recent).exists()
    assert not StoryTerm.objects.filter(story_id=old.story_id).exists()
    assert StoryTerm.objects.filter(story_id=recent.story_id).exists()
    assert CopyBand.objects.filter(article=recent).count() == fp.BANDS


def test_document_frequencies_can_leave_out_the_originals_published_within_a_span():
    first, museum, rewrite = report(RAIL), report(MUSEUM, hours=1), report(RAIL_REWRITE, hours=8)
    for article in (first, museum, rewrite):
        group(article)
    rail = sorted((set(term_counts(*RAIL)) & set(term_counts(*RAIL_REWRITE))) - set(term_counts(*MUSEUM)))[0]

    lag = timedelta(hours=6)
    around = [(article.published_at - lag, article.published_at + lag) for article in (rewrite, first)]

    assert DatabaseStore().frequencies([rail], leave_out=around[0]) == (2, {rail: 1})
    assert DatabaseStore().frequencies([rail], leave_out=around[1]) == (1, {rail: 1})
    assert DatabaseStore().frequencies([rail]) == (3, {rail: 2})


# --- Re-indexing after an editor's decision ------------------------------------------------------


def index_of(story_id: int) -> tuple[dict, list]:
    """A story's profile and its index rows (term, last seen)."""
    profile = Story.objects.values_list("profile", flat=True).get(pk=story_id)
    return profile, sorted(StoryTerm.objects.filter(story_id=story_id).values_list("term", "last_seen_at"))


def test_reindexing_a_story_grouping_just_built_of_an_original_and_its_copy_changes_nothing():
    original, copy = report(WIRE, hours=0), report(WIRE, hours=1)
    group(original)
    group(copy)
    assert copy.duplicate_of_id == original.pk
    before = index_of(original.story_id)
    members = Story.objects.values_list("member_vectors", flat=True).get(pk=original.story_id)

    services.story_reindex(story=original.story)

    assert index_of(original.story_id) == before
    assert Story.objects.values_list("member_vectors", flat=True).get(pk=original.story_id) == members
    assert len(members) == 1  # the original's vector; a copy adds none
    assert before[1][0][1] == copy.published_at  # seen until its copy, as grouping left it


def test_reindexing_a_story_left_without_originals_takes_it_out_of_the_index():
    rail, museum = report(RAIL), report(MUSEUM, hours=1)
    group(rail)
    group(museum)
    Article.objects.filter(pk=rail.pk).update(story=museum.story_id)

    profile = services.story_reindex(story=rail.story)

    assert profile == {} and index_of(rail.story_id) == ({}, [])
    assert Story.objects.values_list("member_vectors", flat=True).get(pk=rail.story_id) == []
    assert index_of(museum.story_id)[1]  # the other story keeps its index


# --- Bad input -----------------------------------------------------------------------------


def test_articles_with_empty_text_and_unrelated_titles_stay_apart():
    weather = factories.make_ungrouped_article(title="Weather", extracted_text="")
    markets = factories.make_ungrouped_article(title="Markets", extracted_text="")
    nothing = factories.make_ungrouped_article(title="!!!", extracted_text="")

    for article in (weather, markets, nothing):
        group(article)

    assert len({weather.story_id, markets.story_id, nothing.story_id}) == 3


def test_the_same_very_short_text_under_unrelated_titles_does_not_glue_them():
    rail = report((RAIL[0], "Read more."))
    museum = report((MUSEUM[0], "Read more."), hours=1)

    group(rail)
    group(museum)

    assert rail.story_id != museum.story_id


def test_titles_alone_group_the_same_event_and_keep_a_shared_word_apart():
    fed = report(("Fed official says weak data caused by weather, should not slow taper", ""))
    plosser = report(("Fed's Plosser: weather to blame for weak data, taper should go on", ""), hours=1)
    shares = report(("Apple shares fall after weak iPhone sales", ""), hours=2)
    pie = report(("Apple pie wins county fair baking contest", ""), hours=3)

    for article in (fed, plosser, shares, pie):
        group(article)

    assert fed.story_id == plosser.story_id
    assert shares.story_id != pie.story_id


def test_all_caps_titles_group_like_any_other_and_glue_nothing_unrelated():
    shouted = report(("BREAKING: COUNCIL APPROVES LIGHT-RAIL LINE ACROSS THE RIVER", RAIL[1].upper()))
    calm = report(RAIL_REWRITE, hours=1)
    other = report(("BREAKING: NATIONAL MUSEUM REOPENS", ""), hours=2)

    for article in (shouted, calm, other):
        group(article)

    assert shouted.story_id == calm.story_id != other.story_id


def test_articles_in_different_languages_about_different_events_stay_apart():
    german = report(
        (
            "Bundestag beschließt neues Klimagesetz",
            "Der Bundestag hat am Donnerstag ein neues Klimagesetz beschlossen. Die Regierung will "
            "die Emissionen bis 2030 halbieren.",
        )
    )
    english = report(
        (
            "Senate passes farm bill",
            "The Senate passed the farm bill on Thursday. Farmers will receive support until 2030.",
        ),
        hours=1,
    )

    group(german)
    group(english)

    assert german.story_id != english.story_id


def test_a_cookie_banner_leading_the_text_does_not_glue_two_articles_of_one_site():
    banner = (
        "We use cookies to improve your experience on our site, to show you personalised advertising "
        "and to analyse our traffic. By clicking Accept all you agree to the storing of cookies on your "
        "device. You can change your choice at any time in Privacy settings. "
    )
    site = factories.make_source()
    rail = report((RAIL[0], banner + RAIL[1]), source=site)
    museum = report((MUSEUM[0], banner + MUSEUM[1]), hours=1, source=site)

    group(rail)
    group(museum)

    assert rail.story_id != museum.story_id


# --- Cost --------------------------------------------------------------------------------


def old_stories(count: int, *, like: Article) -> None:
    """`count` stories from a month ago indexed by the same terms as `like` and holding its
    copy bands: everything grouping could match, outside the window."""
    month_ago = timezone.now() - timedelta(days=40)
    start = Story.objects.count()
    stories = Story.objects.bulk_create(
        Story(title=f"Old story {start + i}", slug=f"old-story-{start + i}", article_count=1)
        for i in range(count)
    )
    terms = "council light rail river bridge line approve billion commuting rider".split()
    StoryTerm.objects.bulk_create(
        StoryTerm(story=story, term=term, last_seen_at=month_ago) for story in stories for term in terms
    )
    holder = factories.make_article(published_at=month_ago, fingerprint=fp.fingerprint(like.extracted_text))
    bands = fp.band_keys(fp.fingerprint(like.extracted_text))
    CopyBand.objects.bulk_create(
        CopyBand(article=holder, key=key, published_at=month_ago) for _ in range(count // 10) for key in bands
    )


def queries_to_group(article: Article) -> int:
    with CaptureQueriesContext(connection) as captured:
        outcome = services.article_group(article=article)
    assert outcome.created  # both measured articles take the same path
    return len(captured)


def test_grouping_one_article_costs_the_same_queries_with_100_or_1000_old_stories():
    first = report(RAIL, hours=0)
    old_stories(100, like=first)
    with_100 = queries_to_group(first)

    later = report(RAIL_REWRITE, hours=24 * 4)  # outside the first one's window
    old_stories(900, like=later)
    with_1000 = queries_to_group(later)

    assert with_100 == with_1000 <= 20


# --- With an embeddings backend --------------------------------------------------------------


def warm(dimensions: int = 4, articles: int = 1000) -> None:
    """A site that has embedded `articles` originals whose vectors average to nothing: past
    grouping's warm-up, so vectors take part in placements."""
    EmbeddingCount.objects.create(dimensions=dimensions, articles=articles, total=bytes(8 * dimensions))


def rail_or_not(text: str) -> list[float]:
    """An embedding model that knows trams and light rail mean one thing."""
    return [1.0, 0.0, 0.0, 0.0] if "rail" in text.lower() or "tram" in text.lower() else [0.0, 0.0, 1.0, 0.0]


def test_the_vector_is_fetched_through_the_endpoint_before_the_grouping_lock_is_taken(
    fake_embeddings, monkeypatch
):
    events: list[str] = []

    def embed(body: dict) -> None:
        events.append("embeddings request")  # then the fake answers as usual

    def lock() -> None:
        events.append("grouping lock")
        real_lock()

    real_lock = services.stories_lock
    monkeypatch.setattr(services, "stories_lock", lock)
    fake_embeddings.embedding_script.append(embed)
    article = report(RAIL)

    group(article)

    assert events == ["embeddings request", "grouping lock"]
    assert fake_embeddings.embedding_inputs == [embeddings.embedding_text(*RAIL)]
    vector = embeddings.unpack(article.embedding)
    assert vector == embeddings.unit(bag_of_words(embeddings.embedding_text(*RAIL)))
    assert bytes(Story.objects.get(pk=article.story_id).embedding) == bytes(article.embedding)
    assert EmbeddingCount.objects.get(dimensions=len(vector)).articles == 1


def test_the_text_embedded_leaves_out_what_the_site_printed_on_its_earlier_page(fake_embeddings):
    site = factories.make_source()
    rail = report((RAIL[0], SITE_BANNER + RAIL[1]), source=site)
    museum = report((MUSEUM[0], SITE_BANNER + MUSEUM[1]), hours=1, source=site)

    group(rail)
    group(museum)

    first, second = fake_embeddings.embedding_inputs
    # The site's first page is read whole; on the next the banner is known as the site's own.
    assert "We use cookies" in first
    assert "cookies" not in second and second.startswith(f"{MUSEUM[0]}\n{MUSEUM[1][:40]}")
    assert second == embeddings.embedding_text(MUSEUM[0], Article.objects.get(pk=museum.pk).grouping_lead)


def test_a_paraphrase_joins_the_story_when_the_endpoint_embeds_the_two_alike(fake_embeddings):
    warm()
    fake_embeddings.embedder = rail_or_not
    first, paraphrase = report(RAIL), report(RAIL_PARAPHRASE, hours=1)

    group(first)
    outcome = group(paraphrase)

    assert not outcome.created and paraphrase.story_id == first.story_id
    story = Story.objects.get(pk=first.story_id)
    assert embeddings.unpack(story.embedding) == (2.0, 0.0, 0.0, 0.0)  # the sum of its two vectors
    assert EmbeddingCount.objects.get(dimensions=4).articles == 1002


def test_without_the_backend_the_same_paraphrase_starts_a_story_of_its_own():
    first, paraphrase = report(RAIL), report(RAIL_PARAPHRASE, hours=1)

    group(first)
    outcome = group(paraphrase)

    assert outcome.created and paraphrase.embedding is None


def closed_port_url() -> str:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{spare.getsockname()[1]}/v1"


def slow_reply(body: dict) -> Reply:
    time.sleep(3)  # the fixture's timeout is 2 s
    return Reply(200, {})


@pytest.mark.parametrize(
    "failure",
    ["endpoint down", "timeout", "malformed JSON", "HTTP 500"],
)
def test_when_the_endpoint_fails_the_article_is_grouped_by_tfidf_alone(
    fake_embeddings, settings, caplog, failure
):
    warm()
    fake_embeddings.embedder = rail_or_not
    first = report(RAIL)
    group(first)
    if failure == "endpoint down":
        settings.STORY_EMBEDDINGS_URL = closed_port_url()
    else:
        fake_embeddings.embedding_script.append(
            {
                "timeout": slow_reply,
                "malformed JSON": b'{"data": [{"embedding": [1,',
                "HTTP 500": Reply(500, {}),
            }[failure]
        )
    rewrite, paraphrase = report(RAIL_REWRITE, hours=1), report(RAIL_PARAPHRASE, hours=2)

    with caplog.at_level(logging.WARNING):
        rewrite_outcome, paraphrase_outcome = group(rewrite), group(paraphrase)

    assert "Embeddings endpoint failed, grouping by TF-IDF alone" in caplog.text
    # The rewrite shares title words and joins by TF-IDF; the paraphrase needed its vector.
    assert rewrite.story_id == first.story_id and rewrite_outcome.placed
    assert paraphrase_outcome.created
    assert rewrite.embedding is None and paraphrase.embedding is None
    # After the failure the endpoint was left alone: one failed request, not one per article.
    assert len(fake_embeddings.requests) == (1 if failure == "endpoint down" else 2)


def test_a_vector_of_another_dimension_than_the_stories_is_not_used_nor_kept(fake_embeddings, caplog):
    warm()
    fake_embeddings.embedder = rail_or_not
    first = report(RAIL)
    group(first)
    fake_embeddings.embedder = lambda text: [1.0, 0.0, 0.0]  # the operator switched models
    paraphrase = report(RAIL_PARAPHRASE, hours=1)

    with caplog.at_level(logging.WARNING):
        outcome = group(paraphrase)

    assert outcome.created and paraphrase.embedding is None
    assert "Embedding has 3 dimensions, story" in caplog.text
    assert not EmbeddingCount.objects.filter(dimensions=3).exists()


def test_the_endpoint_is_asked_again_once_the_pause_after_a_failure_is_over(fake_embeddings):
    fake_embeddings.embedding_script.append(Reply(503, {}))
    group(report(RAIL))
    group(report(MUSEUM, hours=1))
    assert len(fake_embeddings.requests) == 1

    cache.clear()  # the pause expires
    article = report(RAIL_REWRITE, hours=2)
    group(article)

    assert len(fake_embeddings.requests) == 2 and article.embedding is not None


def test_regrouping_reuses_the_stored_vectors_and_asks_only_for_missing_ones(fake_embeddings):
    fake_embeddings.embedder = rail_or_not
    first, rewrite, museum = report(RAIL), report(RAIL_REWRITE, hours=1), report(MUSEUM, hours=2)
    for article in (first, rewrite):
        group(article)
    with override_settings(STORY_EMBEDDINGS_URL=""):
        group(museum)  # grouped while the backend was off: no vector
    asked = list(fake_embeddings.embedding_inputs)

    services.stories_regroup()

    assert fake_embeddings.embedding_inputs == [*asked, embeddings.embedding_text(*MUSEUM)]
    for article in (first, rewrite, museum):
        article.refresh_from_db()
    assert first.story_id == rewrite.story_id != museum.story_id
    assert embeddings.unpack(museum.embedding) == (0.0, 0.0, 1.0, 0.0)
    # The running total is rebuilt from the articles themselves, each counted once.
    total = EmbeddingCount.objects.get(dimensions=4)
    assert total.articles == 3
    assert tuple(array("d", bytes(total.total))) == (2.0, 0.0, 1.0, 0.0)


def test_reindexing_a_story_sums_the_vectors_of_its_originals(fake_embeddings):
    warm()
    fake_embeddings.embedder = rail_or_not
    first, paraphrase, museum = report(RAIL), report(RAIL_PARAPHRASE, hours=1), report(MUSEUM, hours=2)
    for article in (first, paraphrase, museum):
        group(article)
    Article.objects.filter(pk=museum.pk).update(story=first.story_id)  # an editor moves it

    services.story_reindex(story=first.story)

    story = Story.objects.get(pk=first.story_id)
    assert embeddings.unpack(story.embedding) == (2.0, 0.0, 1.0, 0.0)
