"""articles/stories/boilerplate.py: the start of a text cut into sentences and lines, each
keyed by its words, and the lead taken from what is left once a site's repeated ones are out."""

from __future__ import annotations

import time

from articles.stories import boilerplate
from articles.stories.boilerplate import HEAD_CHARACTERS, MAX_SENTENCES, keys, lead_without, sentences
from articles.stories.similarity import LEAD_CHARACTERS, lead
from tests.articles.stories.events import RAIL, SITE_BANNER


def pieces(text: str, title: str = "") -> list[str]:
    return [text[s.start : s.end] for s in sentences(title, text)]


def test_the_start_of_a_text_is_cut_into_sentences_and_lines_without_a_gap():
    text = (
        'Home\nNews\nThe vote passed. "It is a good day," she said. Was it? Yes!  Trams run at 6 a.m. daily.'
    )

    assert pieces(text) == [
        "Home\n",
        "News\n",
        "The vote passed. ",
        '"It is a good day," she said. ',
        "Was it? ",
        "Yes!  ",
        "Trams run at 6 a.m. daily.",
    ]


def test_an_abbreviation_ends_no_sentence():
    text = "The U.S. Senate met. Sen. Alvarez and Mr. Li spoke. Gov. Reyes signed the bill."

    assert pieces(text) == [
        "The U.S. Senate met. ",
        "Sen. Alvarez and Mr. Li spoke. ",
        "Gov. Reyes signed the bill.",
    ]


def test_a_short_place_name_ends_its_sentence():
    # "Iran." and "Ohio." are as short as "Sen." and "Gov.", but no name follows them: kept
    # whole with the next sentence, the site's banner would hide inside the report's key.
    text = "Talks resumed with Iran. Accept cookies to read on. Storms hit Ohio. Mr. Li spoke?  Yes."

    assert pieces(text) == [
        "Talks resumed with Iran. ",
        "Accept cookies to read on. ",
        "Storms hit Ohio. ",
        "Mr. Li spoke?  ",
        "Yes.",
    ]


def test_a_sentence_is_keyed_by_its_words_whatever_its_case_spacing_and_punctuation():
    first = sentences("", "We use cookies on this site.")
    second = sentences("", "WE  use cookies, on this site!")

    assert first[0].key == second[0].key is not None
    assert sentences("", "We use cookies on that site.")[0].key != first[0].key


def test_the_articles_own_title_in_a_sentence_is_one_placeholder():
    footer = "The post {} appeared first on Riverside Gazette."
    ferry = sentences("Ferry timetable changes", footer.format("Ferry timetable changes"))
    choir = sentences("School choir wins prize", footer.format("School choir wins prize"))

    assert ferry[0].key == choir[0].key is not None
    # A line that is only the title is never judged: it is this article's, not the site's.
    assert sentences("Ferry timetable changes", "Ferry timetable changes\nThe ferry runs.")[0].key is None


def test_only_the_head_of_a_text_is_read_and_a_sentence_it_cuts_is_never_judged():
    text = "Ferry news from the harbour today. " * 100

    found = sentences("", text)

    assert found[-1].end == HEAD_CHARACTERS
    assert found[-1].key is None and all(s.key is not None for s in found[:-1])
    assert keys(found) == [found[0].key]  # one sentence, repeated
    many = sentences("", "".join(f"Line {n}.\n" for n in range(MAX_SENTENCES + 10)))
    assert sum(s.key is not None for s in many) == MAX_SENTENCES


def test_the_lead_is_taken_after_the_sentences_left_out():
    text = SITE_BANNER + RAIL[1]
    found = sentences(RAIL[0], text)
    banner = {s.key for s in found if text[s.start : s.end] in SITE_BANNER}

    cleaned = lead_without(text, found, banner)

    assert len(SITE_BANNER) > LEAD_CHARACTERS  # the text's own lead is all banner
    assert cleaned == lead(RAIL[1])
    assert lead_without(text, found, set()) == lead(text)


def test_a_sentence_in_the_middle_is_left_out_with_its_spaces_and_nothing_else():
    text = "Trams run all night. Share this story on social media. Fares stay the same."
    found = sentences("", text)

    assert lead_without(text, found, {found[1].key}) == "Trams run all night. Fares stay the same."


def test_cutting_a_hostile_text_takes_linear_time(monkeypatch):
    # Only the first HEAD_CHARACTERS are ever cut; with the bound lifted, the cutting itself
    # must grow with the text, not with its square: four times the text, about four times
    # the time (a backtracking pattern would take sixteen).
    monkeypatch.setattr(boilerplate, "HEAD_CHARACTERS", 10_000_000)
    for unit in (".", " ", ". ", "a", "U.S. ", "Mr. Mr. \n"):
        short, long = (unit * (size // len(unit)) for size in (50_000, 200_000))
        assert _seconds(short) < 1 and _seconds(long) < 8 * max(_seconds(short), 0.01)


def _seconds(text: str) -> float:
    """The fastest of three runs: a pause of the machine's makes a run slower, never faster."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        found = sentences("", text)
        lead_without(text, found, set(keys(found)))
        times.append(time.perf_counter() - started)
    return min(times)
