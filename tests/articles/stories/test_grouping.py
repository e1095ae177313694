"""articles/stories/grouping.py in memory: the rules place_article applies whatever the store."""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from articles.stories.embeddings import pack, unit, unpack
from articles.stories.grouping import (
    HUB_NEIGHBOURS,
    HUB_PENALTY,
    IDF_LAG,
    MEMBERS,
    ArticleInput,
    EmbeddingTotal,
    MemoryStore,
    StoryCandidate,
    place_article,
)
from articles.stories.similarity import LEAD_CHARACTERS, lead, term_counts
from tests.articles.stories.events import (
    MUSEUM,
    MUSEUM_REWRITE,
    RAIL,
    RAIL_PARAPHRASE,
    RAIL_REWRITE,
    SITE_BANNER,
    WIRE,
)

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
WINDOW = timedelta(hours=48)


def place_all(events, *, threshold: float = 0.175, store=None):
    store = store or MemoryStore()
    return [
        place_article(
            ArticleInput(key=i, title=title, text=text, published=START + timedelta(hours=i), source=source),
            store,
            window=WINDOW,
            threshold=threshold,
        ).story
        for i, (title, text, source) in enumerate(events)
    ]


class RecordingStore(MemoryStore):
    """A MemoryStore that keeps what it was asked to record for each article."""

    def __init__(self) -> None:
        super().__init__()
        self.grouped_by_key: dict = {}

    def place(self, article, placement, grouped):
        self.grouped = self.grouped_by_key[article.key] = grouped
        return super().place(article, placement, grouped)


def test_the_same_stream_gives_the_same_stories_every_time():
    events = [(*RAIL, "a"), (*MUSEUM, "b"), (*RAIL_REWRITE, "c"), (*MUSEUM_REWRITE, "d")]

    assert place_all(events) == place_all(events) == [1, 2, 1, 2]


def test_a_feed_template_shared_by_a_sites_entries_does_not_glue_them():
    template = (
        "The post {} appeared first on Riverside Gazette. Subscribe to the Riverside Gazette newsletter "
        "for the morning briefing, follow us on social media and share this story with your friends."
    )
    titles = [
        "Ferry timetable changes for winter",
        "School choir wins regional prize",
        "Bakery on Main Street closes",
    ]
    events = [(title, template.format(title), "gazette") for title in titles]

    assert len(set(place_all(events))) == 3


def test_two_unrelated_articles_of_one_site_sharing_its_banner_and_a_title_word_stay_apart():
    # "City" passes the title gate; the banner alone made the two score 0.28 (threshold 0.16).
    events = [
        ("City council approves light-rail line", SITE_BANNER + RAIL[1], "site"),
        ("City museum reopens after renovation", SITE_BANNER + MUSEUM[1], "site"),
    ]

    rail, museum = place_all(events, threshold=0.16)

    assert rail != museum


def test_a_banner_left_out_of_the_lead_lets_the_report_after_it_count():
    store = RecordingStore()
    place_all(
        [("Ferry timetable changes for winter", SITE_BANNER + "The ferry sails less often.", "site")],
        store=store,
    )
    rail = place_article(
        ArticleInput(key=1, title=RAIL[0], text=SITE_BANNER + RAIL[1], published=START, source="site"),
        store,
        window=WINDOW,
        threshold=0.16,
    )
    rewrite = place_article(
        ArticleInput(key=2, title=RAIL_REWRITE[0], text=RAIL_REWRITE[1], published=START, source="wire"),
        store,
        window=WINDOW,
        threshold=0.16,
    )

    assert rewrite.story == rail.story
    # The rail report's vector was made of its own lead, which the banner had filled.
    rail_terms = set(term_counts(RAIL[0], RAIL[1]))
    assert set(store.grouped_by_key[1].vector) == rail_terms
    assert store.grouped_by_key[1].lead == lead(RAIL[1])


def test_a_sentence_two_sources_share_is_news_not_boilerplate():
    statement = (
        'The harbour master said: "No ferry will sail until the storm has passed and the quays '
        'have been inspected by our engineers." '
    )
    store = RecordingStore()
    first, second = place_all(
        [
            ("Harbour master halts ferries", statement + "Passengers waited at the terminal.", "a"),
            ("Ferries halted by harbour master", statement + "Hundreds of travellers were stranded.", "b"),
        ],
        threshold=0.16,
        store=store,
    )

    assert first == second
    assert store.grouped.lead.startswith(statement)


def test_a_sites_repost_of_its_own_article_is_still_a_copy():
    store = MemoryStore()
    original, repost = (
        place_article(
            ArticleInput(key=key, title=WIRE[0], text=SITE_BANNER + WIRE[1], published=START, source="site"),
            store,
            window=WINDOW,
            threshold=0.16,
        )
        for key in ("first", "again")
    )

    assert repost.copy_of == "first" and repost.story == original.story


def test_a_sentence_the_site_used_only_before_the_window_is_kept():
    store = RecordingStore()
    reports = (
        (1, RAIL[1], START),
        (2, MUSEUM[1], START + WINDOW + timedelta(hours=1)),
        (3, WIRE[1], START + WINDOW),
    )
    for key, text, published in reports:
        place_article(
            ArticleInput(
                key=key, title=f"Report {key}", text=SITE_BANNER + text, published=published, source="site"
            ),
            store,
            window=WINDOW,
            threshold=0.16,
        )

    # The first report is out of the second's window: the banner is read as its text.
    assert store.grouped_by_key[2].lead == lead(SITE_BANNER + MUSEUM[1])
    # The third is a window after the first (the window includes its start).
    assert store.grouped_by_key[3].lead == lead(WIRE[1])


def test_an_article_without_a_source_is_read_whole():
    store = RecordingStore()
    for key in (1, 2):
        place_article(
            ArticleInput(key=key, title=f"Report {key}", text=SITE_BANNER + RAIL[1], published=START),
            store,
            window=WINDOW,
            threshold=0.16,
        )

    assert store.grouped.lead == lead(SITE_BANNER + RAIL[1]) and store.grouped.sentences == []


def test_a_title_word_must_index_the_story_even_when_the_texts_share_much():
    shared = " ".join(["harbour festival fireworks lanterns parade"] * 6)
    joined = place_all(
        [("Harbour festival opens", shared, "a"), ("Harbour festival in pictures", shared, "b")]
    )
    apart = place_all([("Harbour festival opens", shared, "a"), ("Tax office moves", shared, "b")])

    assert joined[0] == joined[1]
    assert apart[0] != apart[1]


def test_a_lead_cut_inside_a_word_leaves_out_the_fragment():
    padding = "ferry " * 65 + "boat "
    assert len(padding) == LEAD_CHARACTERS - 5

    cut = term_counts("", padding + "declaration of the harbour")
    at_a_space = term_counts("", padding + "vote declaration")

    # "decla" would be the rarest term of all, matching nothing; the whole word is past the cut.
    assert "decla" not in cut and "declaration" not in cut and cut["ferry"] == 65
    assert "vote" in at_a_space and not {"declaration", "de"} & set(at_a_space)


def test_an_article_with_neither_title_words_nor_text_starts_a_story_of_its_own():
    stories = place_all([(*RAIL, "a"), ("", "", "b"), ("!!!", "", "c")])

    assert len(set(stories)) == 3


class OneStoryStore(MemoryStore):
    """A store whose only recent story is `story`."""

    def __init__(self, story: StoryCandidate) -> None:
        super().__init__()
        self.story = story

    def recent_stories(self, terms, since):
        return [self.story]

    def place(self, article, placement, grouped):
        self.grouped = grouped
        return 100 if placement.created else placement.story


# A story of the days after a bridge was closed, summed over many reports about the bridge;
# one of its reports was about the extra ferries.
BRIDGE_PROFILE = {
    "bridge": 8.0,
    "closure": 6.0,
    "repair": 6.0,
    "crash": 4.0,
    "ship": 4.0,
    "harbour": 3.0,
    "inquiry": 3.0,
    "insurer": 3.0,
    "ferry": 0.5,
    "extra": 0.5,
    "sailing": 0.5,
}
FERRY_REPORT = {"ferry": 0.5, "extra": 0.5, "sailing": 0.5, "harbour": 0.5}
BRIDGE_REPORT = {"bridge": 0.7, "harbour": 0.7}
INQUIRY_REPORT = {"inquiry": 0.8, "bridge": 0.6}


def place_ferries(store: MemoryStore, *, embedding=None, embedding_weight: float = 0.0):
    # Five title terms of equal weight (one document so far): 1/sqrt(5) each.
    article = ArticleInput(
        key=99, title="Harbour ferries run extra sailings", text="", published=START, embedding=embedding
    )
    return place_article(article, store, window=WINDOW, threshold=0.16, embedding_weight=embedding_weight)


def test_a_story_takes_an_article_close_to_one_of_its_reports_though_its_summed_profile_is_far():
    members = (BRIDGE_REPORT, INQUIRY_REPORT, FERRY_REPORT, BRIDGE_REPORT, INQUIRY_REPORT)
    story = StoryCandidate(key=7, profile=BRIDGE_PROFILE, last_seen=START, members=members)

    store = OneStoryStore(story)
    placement = place_ferries(store)

    weight = 1 / math.sqrt(5)
    # The mean cosine of its two closest reports: the ferries (4 terms) and a bridge report.
    assert placement.story == 7
    assert placement.score == pytest.approx((4 * weight * 0.5 + weight * 0.7) / 2)
    # It becomes the story's latest member, its terms rounded for storage.
    assert store.grouped.members == [
        *members,
        dict.fromkeys(["extra", "ferry", "harbour", "run", "sailing"], 0.44721),
    ]


def test_a_story_of_two_members_scores_by_the_closer_one():
    # An editor merged a German report into the story: the two share no word.
    german = {"hafen": 0.7, "fähre": 0.7}
    store = OneStoryStore(
        StoryCandidate(key=7, profile=BRIDGE_PROFILE, last_seen=START, members=(german, FERRY_REPORT))
    )

    placement = place_ferries(store)

    assert placement.story == 7
    assert placement.score == pytest.approx(4 * 0.5 / math.sqrt(5))


def test_a_story_keeps_only_its_latest_members():
    members = tuple({"harbour": 0.7, f"day{n}": 0.7} for n in range(MEMBERS))
    store = OneStoryStore(StoryCandidate(key=7, profile=BRIDGE_PROFILE, last_seen=START, members=members))

    place_ferries(store)

    assert len(store.grouped.members) == MEMBERS
    assert store.grouped.members[:-1] == list(members[1:])  # the oldest went


def test_a_story_quiet_for_a_day_keeps_half_its_score():
    fresh = place_ferries(
        OneStoryStore(StoryCandidate(key=7, profile=FERRIES, last_seen=START, members=(FERRY_REPORT,)))
    )
    quiet = place_ferries(
        OneStoryStore(
            StoryCandidate(
                key=7, profile=FERRIES, last_seen=START - timedelta(hours=24), members=(FERRY_REPORT,)
            )
        )
    )
    # Seen after the article was published (it arrived late): no decay.
    later = place_ferries(
        OneStoryStore(
            StoryCandidate(
                key=7, profile=FERRIES, last_seen=START + timedelta(hours=3), members=(FERRY_REPORT,)
            )
        )
    )

    assert fresh.score == later.score == pytest.approx(4 * 0.5 / math.sqrt(5))
    assert quiet.score == pytest.approx(fresh.score / 2)


def test_a_fresh_story_takes_an_article_that_a_story_quiet_for_a_day_and_a_half_matches_better():
    quiet = StoryCandidate(
        key=3, profile=FERRIES, last_seen=START - timedelta(hours=36), members=(FERRY_REPORT,)
    )
    winter = {"ferry": 0.5, "harbour": 0.5, "sailing": 0.5, "winter": 0.5}
    fresh = StoryCandidate(
        key=5, profile={"winter": 5.0, "timetable": 5.0, "ferry": 1.0}, last_seen=START, members=(winter,)
    )
    store = StoriesStore(quiet, fresh)

    placement = place_ferries(store)

    # In words the quiet story is closer (4 shared terms against 3), in time the fresh one.
    assert (placement.story, placement.merged, store.merges) == (5, (), [])
    assert placement.score == pytest.approx(3 * 0.5 / math.sqrt(5))


def test_a_story_without_member_vectors_is_scored_by_its_profile():
    # Grouped before stories kept their members: the profile's cosine (about 0.14) decides.
    placement = place_ferries(OneStoryStore(StoryCandidate(key=7, profile=BRIDGE_PROFILE, last_seen=START)))

    assert placement.created
    assert placement.score == pytest.approx(0.144, abs=0.001)


class StoriesStore(MemoryStore):
    """A store whose recent stories are `stories`; records what consolidation merges."""

    def __init__(self, *stories: StoryCandidate) -> None:
        super().__init__()
        self.candidates, self.merges = list(stories), []

    def recent_stories(self, terms, since):
        return self.candidates

    def merge(self, keep, gone, profile, members, embedding=None):
        self.merges.append((keep, gone, members))
        self.merged_embedding = embedding

    def place(self, article, placement, grouped):
        self.grouped = grouped
        return 100 if placement.created else placement.story


FERRIES = {"ferry": 1.0, "harbour": 1.0, "sailing": 1.0, "extra": 0.5}
FERRIES_RUN = {"ferry": 0.5, "harbour": 0.5, "sailing": 0.4, "run": 0.5}


def ferry_stories(
    *, joined: int = 3, rival: int = 5, rival_profile=None, locked: bool = False, sums=(None, None)
):
    """Two close ferry stories; `sums` are their sentence vector sums, if any."""
    joined_sum, rival_sum = (pack(values) if values is not None else None for values in sums)
    return StoriesStore(
        StoryCandidate(
            key=joined, profile=FERRIES, last_seen=START, members=(FERRY_REPORT,), embedding=joined_sum
        ),
        StoryCandidate(
            key=rival,
            profile=rival_profile or {**FERRIES_RUN, "ferry": 1.0},
            last_seen=START,
            members=(FERRIES_RUN,),
            locked=locked,
            embedding=rival_sum,
        ),
    )


# A story of a running issue's common words: ten articles placed in other stories matched it
# at 0.9 (its hub scores), for each was about another event of the issue.
RUNNING_ISSUE = StoryCandidate(
    key=3, profile=FERRIES, last_seen=START, members=(FERRY_REPORT,), hub=(0.9,) * HUB_NEIGHBOURS
)
WINTER_TIMETABLE = StoryCandidate(
    key=5,
    profile={"winter": 5.0, "timetable": 5.0, "ferry": 1.0},
    last_seen=START,
    members=({"ferry": 0.5, "harbour": 0.5, "sailing": 0.5, "winter": 0.5},),
)


def test_a_story_that_articles_placed_elsewhere_matched_closely_scores_lower():
    plain = place_ferries(OneStoryStore(replace(RUNNING_ISSUE, hub=())))
    hub = place_ferries(OneStoryStore(RUNNING_ISSUE))
    half = place_ferries(OneStoryStore(replace(RUNNING_ISSUE, hub=(0.9,) * (HUB_NEIGHBOURS // 2))))

    assert plain.score == pytest.approx(4 * 0.5 / math.sqrt(5))
    assert hub.score < plain.score - 0.5
    assert hub.score == pytest.approx(plain.score - HUB_PENALTY * 0.9)
    # Scores it has not received yet count 0: a young story is barely lowered.
    assert half.score == pytest.approx(plain.score - HUB_PENALTY * 0.45)


def test_an_article_goes_to_the_story_of_its_event_not_to_a_running_issue_that_matches_everything():
    store = StoriesStore(RUNNING_ISSUE, WINTER_TIMETABLE)

    placement = place_ferries(store)

    # In words the running issue is closer (4 shared terms against 3).
    assert (placement.story, placement.merged) == (5, ())
    assert placement.score == pytest.approx(3 * 0.5 / math.sqrt(5))
    assert place_ferries(StoriesStore(replace(RUNNING_ISSUE, hub=()), WINTER_TIMETABLE)).story == 3


def test_an_article_adds_its_score_to_the_hub_scores_of_the_stories_it_did_not_join():
    store = StoriesStore(replace(RUNNING_ISSUE, hub=(0.95,) * 9), WINTER_TIMETABLE)

    assert place_ferries(store).story == 5

    # Its member score before any decay or penalty, rounded as stored; the joined story records
    # nothing.
    assert store.grouped.hub == {3: [0.95] * 9 + [round(4 * 0.5 / math.sqrt(5), 5)]}

    full = StoriesStore(replace(RUNNING_ISSUE, hub=(0.95,) * 9 + (0.5,)), WINTER_TIMETABLE)
    place_ferries(full)
    assert full.grouped.hub == {3: [0.95] * 9 + [0.89443]}  # the ten highest


def test_an_article_that_fits_two_close_stories_merges_the_younger_into_the_older():
    store = ferry_stories()

    placement = place_ferries(store)

    assert (placement.story, placement.merged) == (3, (5,))
    assert [(keep, gone) for keep, gone, _ in store.merges] == [(3, 5)]
    # The older story's members first, then the younger's.
    assert store.merges[0][2][0] == FERRY_REPORT and store.merges[0][2][-1] == FERRIES_RUN


def test_stories_merged_by_consolidation_keep_the_sum_of_both_stories_sentence_vectors():
    store = ferry_stories(sums=([2.0, 0.0, 0.0], [0.0, 3.0, 0.0]))

    placement = place_ferries(store, embedding=(0.0, 0.0, 1.0), embedding_weight=0.5)

    assert (placement.story, placement.merged) == (3, (5,))
    # The joined story's vectors, the article's and the merged-in story's: one story's sum.
    assert unpack(store.merged_embedding) == (2.0, 3.0, 1.0)


def test_an_article_without_a_vector_merging_two_stories_keeps_both_stories_sentence_vectors():
    store = ferry_stories(sums=([2.0, 0.0, 0.0], [0.0, 3.0, 0.0]))

    # The endpoint was paused: the article comes without a vector.
    placement = place_ferries(store, embedding_weight=0.5)

    assert (placement.story, placement.merged) == (3, (5,))
    assert unpack(store.merged_embedding) == (2.0, 3.0, 0.0)


def test_a_story_younger_than_the_one_it_merges_with_goes_into_it():
    store = ferry_stories(joined=8, rival=5)

    placement = place_ferries(store)

    assert (placement.story, placement.merged) == (5, (8,))


def test_stories_apart_in_profile_stay_apart_though_one_article_fits_both():
    far = {"ferry": 1.0, "timetable": 5.0, "winter": 5.0, "harbour": 0.2}
    store = ferry_stories(rival_profile=far)

    placement = place_ferries(store)

    assert (placement.story, placement.merged, store.merges) == (3, (), [])


def test_a_story_an_editor_shaped_is_never_merged_by_grouping():
    store = ferry_stories(locked=True)

    placement = place_ferries(store)

    assert (placement.story, placement.merged, store.merges) == (3, (), [])


def embedded_store(*, articles: int = 1000, mean: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)) -> MemoryStore:
    """A store that has already embedded `articles` originals whose vectors average `mean`."""
    store = MemoryStore()
    total = array("d", (m * articles for m in mean)).tobytes()
    store.embedding_totals[len(mean)] = EmbeddingTotal(dimensions=len(mean), articles=articles, total=total)
    return store


def place_embedded(events, store: MemoryStore, *, weight: float = 0.5):
    """Place (title, text, vector) events an hour apart, each from its own source."""
    return [
        place_article(
            ArticleInput(
                key=i,
                title=title,
                text=text,
                published=START + timedelta(hours=i),
                source=i,
                embedding=unit(vector),
            ),
            store,
            window=WINDOW,
            threshold=0.175,
            embedding_weight=weight,
        ).story
        for i, (title, text, vector) in enumerate(events)
    ]


def test_a_paraphrase_sharing_no_title_word_joins_the_story_when_the_two_embed_alike():
    alike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0.96, 0.28, 0, 0))]
    unlike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0, 0, 1, 0))]

    assert len(set(place_embedded(alike, embedded_store()))) == 1
    assert len(set(place_embedded(unlike, embedded_store()))) == 2
    # Without embeddings no title word indexes the story: the title gate keeps them apart.
    assert len(set(place_embedded(alike, embedded_store(), weight=0.0))) == 2


def test_embeddings_are_compared_after_removing_what_all_news_shares():
    # Every article so far points mostly along the first axis: two articles that only share
    # that are unrelated, however high their raw cosine (0.81 here).
    store = embedded_store(mean=(0.9, 0.0, 0.0, 0.0))
    events = [(*RAIL, (0.9, 0.436, 0, 0)), (*RAIL_PARAPHRASE, (0.9, 0, 0.436, 0))]

    assert len(set(place_embedded(events, store))) == 2


def test_until_enough_articles_are_embedded_articles_are_placed_by_tfidf_alone():
    store = embedded_store(articles=50)
    alike = [(*RAIL, (1, 0, 0, 0)), (*RAIL_PARAPHRASE, (0.96, 0.28, 0, 0))]

    assert len(set(place_embedded(alike, store))) == 2
    # Their vectors still count towards the mean that later placements subtract.
    assert store.embedding_totals[4].articles == 52


def test_a_vector_of_another_dimension_than_the_stories_is_placed_by_tfidf_alone_and_not_kept(caplog):
    store = embedded_store()
    store.embedding_totals[3] = EmbeddingTotal(
        dimensions=3, articles=1000, total=array("d", [0.0] * 3).tobytes()
    )
    events = [(*RAIL, (1, 0, 0, 0)), (*RAIL_REWRITE, (1, 0, 0)), (*RAIL_PARAPHRASE, (1, 0, 0))]

    with caplog.at_level(logging.WARNING):
        stories = place_embedded(events, store)

    # The rewrite shares title words and joins by TF-IDF; the paraphrase needs its meaning.
    assert stories[0] == stories[1] != stories[2]
    assert "Embedding has 3 dimensions" in caplog.text and "TF-IDF alone" in caplog.text
    assert store.embedding_totals[3].articles == 1000  # neither 3-dimension vector was kept
    assert unpack(store.stories[stories[0]]["embedding"]) == (1.0, 0.0, 0.0, 0.0)


def test_an_events_own_reports_of_the_last_hours_do_not_make_its_name_look_common():
    store = RecordingStore()
    for n, title in enumerate(["Zorbania votes", "Zorbania floods", "Zorbania strike ends"]):
        place_article(
            ArticleInput(key=n, title=title, text="", published=START + timedelta(minutes=20 * n)),
            store,
            window=WINDOW,
            threshold=0.16,
        )
    later = START + timedelta(hours=2)
    place_article(
        ArticleInput(key=9, title="Zorbania ferry talks", text="", published=later),
        store,
        window=WINDOW,
        threshold=0.16,
    )

    # Three reports in the last hours name Zorbania: it weighs as much as "ferry", never seen.
    assert store.grouped.vector["zorbania"] == pytest.approx(store.grouped.vector["ferry"])
    # What is left out is a span of publication times, before or after the article's.
    assert store.frequencies(["zorbania"], leave_out=(later - IDF_LAG, later + IDF_LAG)) == (0, {})
    assert store.frequencies(["zorbania"], leave_out=(START, START + timedelta(minutes=30))) == (
        2,
        {"zorbania": 2},
    )
    assert store.frequencies(["zorbania"], leave_out=(START - 2 * IDF_LAG, START - IDF_LAG)) == (
        4,
        {"zorbania": 4},
    )
    assert store.frequencies(["zorbania"]) == (4, {"zorbania": 4})
