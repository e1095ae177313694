"""bench/summaries.py --cost on a small stream: the production path (grouping, story
summaries, updates) against the loopback fake Messages API, counted as the benchmark counts."""

from __future__ import annotations

import pytest

from bench.summaries import CREDIT_LINE, Arrival, invented_story, largest_story_request, run_stream

EVENTS = [
    ("the storm flooding in the harbour district", "Storm floods the harbour district"),
    ("the fire at the riverside paper mill", "Fire destroys the riverside paper mill"),
    ("the strike at the city bus depot", "Drivers strike at the city bus depot"),
]


def three_events_told_by_four_outlets() -> list[Arrival]:
    """Three events, each reported by four outlets five minutes apart, the events interleaved,
    and one outlet's report syndicated word for word by a fifth, with a credit line."""
    stream = []
    for k, (event, title) in enumerate(EVENTS):
        stream += invented_story(event, title, sources=4, words=80, start=k)
    first = stream[0]
    stream.append(
        Arrival(first.minute + 30, "Syndication partner", first.title, first.text + CREDIT_LINE, first.event)
    )
    return stream


@pytest.mark.django_db(transaction=True)  # tasks chained on commit need real commits
def test_story_summaries_cost_fewer_model_calls_than_summarising_every_report():
    stream = three_events_told_by_four_outlets()

    alone = run_stream(stream, label="alone", story_summaries=False)
    stories = run_stream(stream, label="stories", story_summaries=True, debounced=True)

    assert (alone.stories, stories.stories) == (3, 3)
    assert (alone.copies, stories.copies) == (1, 1)  # the syndicated copy is never summarised
    assert alone.calls == len(alone.requests) == 12  # each outlet's report on its own
    assert stories.covered == 9  # only each story's lead is summarised; the others update it
    # Fewer calls; dollars only over a longer stream: the story tool's prompt is cached once more.
    assert stories.calls < alone.calls
    widest = largest_story_request(stories.requests)
    assert widest is not None and widest.sources == 4  # the copy adds no source
