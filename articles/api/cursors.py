"""Opaque, signed cursors for the JSON API's lists (keyset pagination).

A cursor names the last row of the page a client has: its list, its sort time and its id.
The next page is the rows strictly after it in the list's fixed order (newest first, then
highest id), so paging stays stable while new rows arrive at the top, and costs one index
range scan at any depth. Cursors are signed with SECRET_KEY: a client cannot forge or edit
one, and a cursor of one list is refused by another. They do not expire; a key rotation
makes old ones invalid, which answers 400 like any other bad cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core import signing

_SALT = "newsroom.api.cursor"
_VERSION = 1


class InvalidCursor(ValueError):
    """The cursor was not made by this server for this list."""


@dataclass(frozen=True)
class Position:
    """The last row a page ended on: its sort time and its key (an id; a story listing's key
    is minus the article id for an article in no story, so keys never collide)."""

    at: datetime
    key: int


def encode(*, kind: str, position: Position) -> str:
    return signing.dumps([_VERSION, kind, position.at.isoformat(), position.key], salt=_SALT, compress=False)


def decode(cursor: str, *, kind: str) -> Position:
    """The position in `cursor`, which must have been made for the list `kind`; raises
    InvalidCursor with a message a client can act on."""
    try:
        version, made_for, at, key = signing.loads(cursor, salt=_SALT)
        if version != _VERSION or not isinstance(key, int):
            raise ValueError
        at = datetime.fromisoformat(at)
    except signing.BadSignature:
        raise InvalidCursor(
            "This cursor is not one this API made, or it was changed: pass back `next_cursor` exactly as received."
        ) from None
    except (TypeError, ValueError):
        raise InvalidCursor(
            "This cursor is from an older version of the API: start again from the first page."
        ) from None
    if made_for != kind:
        raise InvalidCursor(f"This cursor belongs to the {made_for} list, not the {kind} list.")
    return Position(at=at, key=key)
