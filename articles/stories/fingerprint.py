"""Copy detection: a MinHash fingerprint of an article's word shingles, banded for lookup.

One-permutation MinHash (Li, Owen and Zhang, 2012) with rotation densification (Shrivastava
and Li, 2014): each shingle is hashed once and lands in one of SLOTS bins, each bin keeps its
smallest hash, and an empty bin borrows from its right-hand neighbour. The fraction of equal
slots estimates the Jaccard similarity of the two shingle sets, as classic MinHash does with
SLOTS hash functions, at the cost of one hash per shingle instead of SLOTS. The slots are cut
into BANDS bands; two texts with Jaccard similarity s share at least one band with
probability 1 - (1 - s^r)^BANDS (r = SLOTS / BANDS), so copies (s > 0.8) meet in the band
index almost surely while unrelated texts almost never do.

datasketch implements classic MinHash but brings numpy and scipy for what is 30 lines here.
"""

from __future__ import annotations

import hashlib
import struct

from .similarity import words

SHINGLE_WORDS = 5
SLOTS = 64
BANDS = 16
ROWS = SLOTS // BANDS
EMPTY = (1 << 64) - 1
# Texts with fewer words carry too little to call them copies of anything.
MIN_WORDS = 40
# Estimated Jaccard similarity of shingles from which two texts are copies of each other.
COPY_SIMILARITY = 0.8

_slot = struct.Struct(f">{SLOTS}Q")


def fingerprint(text: str) -> bytes | None:
    """The MinHash of the text's 5-word shingles (SLOTS × 8 bytes), or None when the text is
    too short to judge. Case, punctuation and spacing do not matter."""
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return None
    slots = [EMPTY] * SLOTS
    for i in range(len(tokens) - SHINGLE_WORDS + 1):
        shingle = " ".join(tokens[i : i + SHINGLE_WORDS]).encode()
        value = int.from_bytes(hashlib.blake2b(shingle, digest_size=8).digest(), "big")
        slot, rest = value % SLOTS, value // SLOTS
        if rest < slots[slot]:
            slots[slot] = rest
    _densify(slots)
    return _slot.pack(*slots)


def _densify(slots: list[int]) -> None:
    """Fill each empty slot from the nearest filled slot to its right (wrapping), offset by
    the distance so that borrowed values differ from the lender's."""
    original = slots[:]
    if EMPTY not in original or all(value == EMPTY for value in original):
        return
    for i in range(SLOTS):
        if original[i] != EMPTY:
            continue
        distance = 1
        while original[(i + distance) % SLOTS] == EMPTY:
            distance += 1
        slots[i] = (original[(i + distance) % SLOTS] + distance * 0x9E3779B97F4A7C15) % EMPTY


def band_keys(signature: bytes) -> list[int]:
    """One signed 64-bit key per band (a BigIntegerField holds it), distinct per band index."""
    slots = _slot.unpack(signature)
    keys = []
    for band in range(BANDS):
        data = struct.pack(f">B{ROWS}Q", band, *slots[band * ROWS : (band + 1) * ROWS])
        keys.append(int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True))
    return keys


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return sum(x == y for x, y in zip(_slot.unpack(a), _slot.unpack(b), strict=True)) / SLOTS


def is_copy(a: bytes, b: bytes) -> bool:
    return similarity(a, b) >= COPY_SIMILARITY
