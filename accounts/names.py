"""Public names that could pass for the newsroom's staff.

A reader's name is shown beside their comments, next to the editors' and moderators' own.
Two kinds of name are kept from readers:

- a staff member's name: their display name, or the start of their email address when
  they have none (what `User.public_name` shows);
- a name with a word that claims a newsroom role ("Editor", "Moderator", "Admin", "Staff",
  "Newsroom", ...) or the site's own name.

Names are compared by their *skeleton*, so that look-alikes compare equal: compatibility
forms folded (NFKD: full-width letters, ligatures), accents and other combining marks
dropped, a small table of Cyrillic and Greek letters that look Latin mapped to them, case
folded, the easily confused 0/o, 1/l/i/| and rn/m merged, and everything that is not a letter
or digit (spaces, punctuation, invisible characters) ignored. This is a pragmatic subset of
Unicode's confusables (UTS #39), enough for "Dеmo Editor" with a Cyrillic е, "DEMO_EDITOR",
"Ｄｅｍｏ　Ｅｄｉｔｏｒ" or "Démo Éditor"; the "staff" badge beside staff names in the
discussion covers what a skeleton cannot.

Everything here is linear in the length of the name (80 characters at most) and uses no
regular expression that could backtrack.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

# Words that claim a role in the newsroom. Compared as skeletons, whole words only, so
# "Creditor" or "Badminton" stay available.
RESERVED_NAME_WORDS = (
    "admin",
    "administrator",
    "editor",
    "moderator",
    "newsroom",
    "official",
    "staff",
)

# Characters that make a name read differently on screen than it is stored, or not at all:
# controls, format characters (U+202E turns "rotidE" into "Editor"; zero-width spaces),
# private-use and line/paragraph separators. Zero-width (non-)joiners stay: Persian and
# Indic names and emoji sequences need them, and the skeleton ignores them anyway.
_UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})


def has_unshown_characters(text: str) -> bool:
    return any(unicodedata.category(c) in _UNSHOWN_CATEGORIES and c not in _JOINERS for c in text)


# Cyrillic and Greek letters drawn like Latin ones (upper and lower case).
_LOOKALIKES = str.maketrans(
    "АВЕЅІЈКМНОРСТХУаеіјѕосрхуԁһӏԛԝΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορ",
    "ABESIJKMHOPCTXYaeijsocpxydhlqwABEZHIKMNOPTYXaikvop",
)
# After case folding: characters that read alike in common fonts.
_CONFUSED = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})


def _fold(text: str) -> str:
    """Compatibility-decomposed, marks dropped, look-alike letters mapped; case kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LOOKALIKES)


def _skeleton_of_folded(folded: str) -> str:
    kept = "".join(c for c in folded.casefold() if c.isalnum() or c == "|")
    return kept.translate(_CONFUSED).replace("rn", "m")


def name_skeleton(text: str) -> str:
    """What `text` looks like, for comparing names: "Dеmo  EDITOR" -> "demoedltor"."""
    return _skeleton_of_folded(_fold(text))


def name_words(text: str) -> list[str]:
    """The skeletons of the words of `text`, split at anything that is not a letter or digit
    and where a lower-case letter meets an upper-case one ("DemoEditor" is two words)."""
    words: list[str] = []
    current: list[str] = []
    previous_lower = False
    for char in _fold(text):
        if not (char.isalnum() or char == "|"):
            if current:
                words.append("".join(current))
            current, previous_lower = [], False
            continue
        if char.isupper() and previous_lower and current:
            words.append("".join(current))
            current = []
        current.append(char)
        previous_lower = char.islower()
    if current:
        words.append("".join(current))
    return [_skeleton_of_folded(word) for word in words]


@cache
def _reserved_skeletons() -> frozenset[str]:
    reserved = {name_skeleton(word) for word in RESERVED_NAME_WORDS}
    return frozenset(reserved | {word + "s" for word in reserved})


def claims_staff_role(text: str) -> bool:
    """Whether `text` has a word that claims a newsroom role, or is the site's own name."""
    return _claims_staff_role(text, settings.SITE_NAME)


# Every logged-in page asks this of its reader's name (User.public_name, in the header); the
# answer depends on the name and the site's name alone, and the skeletons cost ~30 us a name.
@lru_cache(maxsize=4096)
def _claims_staff_role(text: str, site_name: str) -> bool:
    reserved = _reserved_skeletons()
    if any(word in reserved for word in name_words(text)):
        return True
    skeleton = name_skeleton(text)
    return bool(skeleton) and skeleton == name_skeleton(site_name)


def staff_name_skeletons(*, exclude_pk: Any = None) -> set[str]:
    """The skeletons of every staff member's public name (one query)."""
    from .models import User  # accounts.models imports this module

    staff = User.objects.filter(is_staff=True).exclude(pk=exclude_pk).only("display_name", "email")
    return {name_skeleton(member.display_name or member.email.split("@", 1)[0]) for member in staff}


def display_name_problem(*, name: str, user: Any) -> str | None:
    """Why `user` may not take `name` as their display name, or None when they may.

    Nobody may take another staff member's name; readers may not take a name that claims a
    newsroom role. Staff may call themselves "Demo Editor": the discussion marks them as staff.
    """
    if has_unshown_characters(name):
        return _("Names cannot contain invisible, control or text-direction characters.")
    skeleton = name_skeleton(name)
    if not skeleton:
        return None
    if skeleton in staff_name_skeletons(exclude_pk=getattr(user, "pk", None)):
        return _("That name is too close to a staff member's name. Please choose another.")
    if not getattr(user, "is_staff", False) and claims_staff_role(name):
        return _(
            "Names that claim a role in the newsroom (editor, moderator, admin, staff) "
            "are kept for the staff. Please choose another."
        )
    return None
