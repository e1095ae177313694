"""What an article is about, as weighted terms: the words of its title and lead, lower-cased,
without stop words, with plural endings folded, weighted by TF-IDF against the document
frequencies of everything grouped so far.

Linear-time tokenising (one regex with no nested quantifiers over untrusted text) on a
bounded slice of the text: an article's cost does not grow with its length."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping

# Letters and digits; an apostrophe inside a word keeps it whole ("don't", "O'Neill").
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Only this much of the text is read: the lead carries the event; the rest adds noise.
LEAD_CHARACTERS = 400
# What to read of a stored text to take its lead: one character more tells whether the cut
# falls inside a word.
LEAD_READ = LEAD_CHARACTERS + 1
# Title words count this many times a lead word: a title names the event.
TITLE_WEIGHT = 2.0
# Term frequency saturates as in BM25 with k1 = SATURATION: a title word (counted
# TITLE_WEIGHT) weighs 1.5 lead words, a word repeated in the lead little more than once.
SATURATION = 2.0
# Longest term kept (StoryTerm.term holds 64 characters).
MAX_TERM = 64

STOP_WORDS = frozenset(
    """a about above after again against ago all also am amid an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself new no nor not now of off on once one only or other
    our ours ourselves out over own said same say says she should so some such than that the their
    theirs them themselves then there these they this those through to too two under until up us
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves""".split()
)


def words(text: str) -> list[str]:
    """The text's words, lower-cased, in order (for fingerprints)."""
    return _WORD.findall(text.lower())


def fold(word: str) -> str:
    """A light, language-neutral stemmer: possessive and plural endings only, so "Kerry's",
    "taxes" and "tax" meet without the errors of a full stemmer on names."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _terms(text: str) -> list[str]:
    kept = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        term = fold(word)[:MAX_TERM]
        if len(term) > 1 and term not in STOP_WORDS:
            kept.append(term)
    return kept


def title_terms(title: str) -> frozenset[str]:
    """The distinct terms of a title."""
    return frozenset(_terms(title[:500]))


def lead(text: str) -> str:
    """The first LEAD_CHARACTERS of `text`, without the word the cut would split: a fragment
    ("declarati") is a term no other article holds, so it would weigh as much as the rarest
    name in the report while matching nothing."""
    if len(text) <= LEAD_CHARACTERS:
        return text
    end = LEAD_CHARACTERS
    if text[end].isalnum():
        while end > 0 and (text[end - 1].isalnum() or text[end - 1] in "'’"):
            end -= 1
    return text[:end]


def term_counts(title: str, text: str) -> Counter[str]:
    """Weighted term counts of the title and the lead of the text."""
    counts: Counter[str] = Counter()
    for term in _terms(title[:500]):
        counts[term] += TITLE_WEIGHT
    for term in _terms(lead(text)):
        counts[term] += 1
    return counts


def tfidf(counts: Mapping[str, float], documents: int, frequencies: Mapping[str, int]) -> dict[str, float]:
    """Unit-length TF-IDF vector: saturating term frequency (BM25's, count·(k+1)/(count+k):
    a word said again adds less each time) times smoothed inverse document frequency, from
    `documents` grouped so far and each term's document frequency."""
    vector = {
        term: _saturated(count) * (math.log((documents + 1) / (frequencies.get(term, 0) + 1)) + 1)
        for term, count in counts.items()
        if count > 0
    }
    norm = math.sqrt(sum(weight * weight for weight in vector.values()))
    return {term: weight / norm for term, weight in vector.items()} if norm else {}


def _saturated(count: float) -> float:
    return count * (SATURATION + 1) / (count + SATURATION)
