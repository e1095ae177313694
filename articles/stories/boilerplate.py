"""A site's own repeated text: what every page of a source carries (a cookie banner,
navigation, "The post … appeared first on …" under each feed entry) says nothing about the
event, yet it would make two unrelated articles of that site look alike. Grouping leaves out
of an article's lead each sentence that its source used in another original within the
window (grouping.place_article asks the store which).

The start of the text (HEAD_CHARACTERS) is cut into sentences and lines by one regex without
nested quantifiers (linear time on untrusted text), and each becomes a key: the hash of its
words, lower-cased, with the article's own title replaced by one placeholder, so that "The
post <title> appeared first on <site>" is the same sentence on every page of the site. The
lead is then taken from what is left, so the report after a leading banner still counts.

Only the same source's sentences count: two sources quoting one statement share a sentence
that is news, not a template."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .similarity import LEAD_READ, lead, words

# How much of the start of a text is cut into sentences: a banner or a navigation block
# comes first, and the lead must be found after it. Bounds the work per article.
HEAD_CHARACTERS = 1_500
# Sentences of an article looked up and recorded, at most: bounds the rows per article.
MAX_SENTENCES = 64
# A break after a sentence's end (with a closing quote or bracket) or at a line's end. Each
# alternative is a fixed-width lookbehind followed by one run of spaces: linear time.
_BREAK = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+|\n\s*")
# A word whose full stop ends no sentence: initials ("U.S.", "a.m.", "J.") and the short
# titles and abbreviations written before a name or a number ("Mr.", "Sen.", "Gov.", "No.").
# Cut there, "The U.S." would be a sentence of its own that a site writes in every other
# article, and the name after it would be left out with it. A listed word, not any short
# capitalised one: "Iran." and "Ohio." end sentences.
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+")
_ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Mx Dr Prof Sen Rep Gov Lt Gen Col Maj Capt Cmdr Adm Sgt Cpl Pvt Rev Fr Hon "
    "Pres Supt Det Insp Atty Amb Sr Jr St Mt Ft Ave Blvd Rd Co Corp Inc Ltd Bros Dept Univ "
    "No Nos Vol Vols Fig Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec vs approx".split()
)
# The longest abbreviation looked for before a break (the look back is bounded).
_ABBREVIATION_CHARACTERS = 12
# Stands for the article's title inside a sentence (words() never yields it).
_TITLE = "\x00"


@dataclass(frozen=True)
class Sentence:
    """A piece of the start of a text, with the spaces after it: text[start:end]. `key` is
    None for a piece that is never judged (no word but the title, or cut by HEAD_CHARACTERS,
    or past MAX_SENTENCES)."""

    start: int
    end: int
    key: int | None


def sentences(title: str, text: str) -> list[Sentence]:
    """The sentences and lines of the text's first HEAD_CHARACTERS, in order, covering them
    without a gap."""
    head = text[:HEAD_CHARACTERS]
    if not head:
        return []
    spans = []
    start = 0
    for found in _BREAK.finditer(head):
        if found.end() > start and not _after_abbreviation(head, found):
            spans.append((start, found.end()))
            start = found.end()
    if start < len(head):
        spans.append((start, len(head)))
    title_words = " ".join(words(title[:500]))
    pieces: list[Sentence] = []
    keyed = 0
    for start, end in spans:
        # A piece cut by the end of the head is not a whole sentence: never judged.
        whole = end < len(head) or len(text) <= HEAD_CHARACTERS
        key = _key(head[start:end], title_words) if whole and keyed < MAX_SENTENCES else None
        keyed += key is not None
        pieces.append(Sentence(start, end, key))
    return pieces


def keys(found: list[Sentence]) -> list[int]:
    """The distinct keys of the sentences, in order."""
    return list(dict.fromkeys(sentence.key for sentence in found if sentence.key is not None))


def lead_without(text: str, found: list[Sentence], repeated: set[int] | frozenset[int]) -> str:
    """The lead (similarity.lead) of the text without the sentences whose key is in
    `repeated`; the text's own lead when there are none."""
    if not repeated or not any(sentence.key in repeated for sentence in found):
        return lead(text)
    kept = "".join(text[s.start : s.end] for s in found if s.key is None or s.key not in repeated)
    end = found[-1].end
    return lead(kept + text[end : end + LEAD_READ])


def _after_abbreviation(head: str, found: re.Match[str]) -> bool:
    """Whether a break within a line follows an abbreviation rather than a sentence's end."""
    if "\n" in found.group():
        return False
    before = head[max(0, found.start() - _ABBREVIATION_CHARACTERS) : found.start()]
    parts = before.rsplit(None, 1)
    if not parts or (len(parts) == 1 and found.start() > _ABBREVIATION_CHARACTERS):
        return False  # no word, or one longer than any abbreviation
    word = parts[-1].lstrip("\"'“‘([").rstrip("\"'”’)]")
    if not word.endswith("."):
        return False  # "?", "!" and "…" end a sentence after any word
    return word[:-1] in _ABBREVIATIONS or _INITIALS.fullmatch(word) is not None


def _key(sentence: str, title_words: str) -> int | None:
    normal = " ".join(words(sentence))
    if title_words:
        normal = f" {normal} ".replace(f" {title_words} ", f" {_TITLE} ").strip()
    if not normal.replace(_TITLE, "").strip():
        return None
    # A signed 64-bit integer (a BigIntegerField holds it), the same in every process.
    return int.from_bytes(hashlib.blake2b(normal.encode(), digest_size=8).digest(), "big", signed=True)
