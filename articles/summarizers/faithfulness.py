"""Faithfulness beyond quotes (issue #15): are the figures, dates and names of a text in its sources?

An evidence quote proves that a key point came from the article, but the sentence around it is the
model's own and can still turn "41 dead" into "14 dead" or bring in a name the article never
mentions. This module lists the facts of a text (numbers, percentages, money amounts, dates,
proper names), normalised so that equivalent spellings meet ("9,000" = "9000", "$3bn" = "3 billion
dollars", "30 November" = "Nov. 30"), and looks each one up in an index of each source.

Cost is linear in the text. A few regular expressions without nested quantifiers find anchors
(digit runs, month and weekday names, small number words, words) and plain Python reads a few
characters around each anchor. A source is read up to SOURCE_LIMIT characters, a checked text up
to TEXT_LIMIT; facts beyond that are not seen.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from itertools import islice
from typing import NamedTuple

# The quotation-mark and dash table of the grounding check, so both checks read text the same way.
from .grounding import _QUOTE_CHARS, normalise, quote_in_text

SOURCE_LIMIT = 200_000
TEXT_LIMIT = 20_000
# Digit runs, number words and month or weekday names read per text, each. A 10,000-word article
# has a few hundred; the cap bounds a source that is a wall of figures.
ANCHOR_LIMIT = 10_000
NUMERIC_KINDS = ("number", "percent", "money", "date")


@dataclass(frozen=True)
class Fact:
    kind: str  # "number" | "percent" | "money" | "date" | "name"
    text: str  # as written in the checked text
    key: str  # normalised matching key, see _amount_fact, _dates and _names


# ---------------------------------------------------------------- words that make numbers facts

_SCALES = {
    "thousand": 3, "million": 6, "billion": 9, "trillion": 12,
    "k": 3, "m": 6, "mn": 6, "mln": 6, "b": 9, "bn": 9, "tn": 12, "trn": 12,
}  # fmt: skip
# Apart from the number only unambiguous scales count: "5 m" may be metres, "a 5 k run" a race.
_SCALE_WORDS = {"thousand", "million", "billion", "trillion", "mn", "mln", "bn", "tn", "trn"}
_ORDINALS = {"st", "nd", "rd", "th"}
_SMALL_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
}  # fmt: skip
_CURRENCY_SYMBOLS = {"$": "$", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY_WORDS = {
    "dollar": "$", "dollars": "$", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
    "pound": "GBP", "pounds": "GBP", "sterling": "GBP", "gbp": "GBP", "yen": "JPY", "jpy": "JPY",
    "aud": "AUD", "cad": "CAD",
}  # fmt: skip
# "US$5m" is a US dollar amount, "A$5m" an Australian one; a bare "$" or "dollars" could be either.
_DOLLAR_PREFIXES = {
    "US": "USD", "A": "AUD", "AU": "AUD", "C": "CAD", "CA": "CAD", "NZ": "NZD", "HK": "HKD", "S": "SGD",
}  # fmt: skip
_DOLLARS = {"$", "USD", "AUD", "CAD", "NZD", "HKD", "SGD"}
# A hedge widens a match to the precision the number is written with: "about 9,000" is supported
# by 8,976, "more than 9,000" by 9,400, "nearly 3 billion" by 2.8 billion.
_HEDGE_WORDS = {
    "~": ("about", "around", "roughly", "approximately", "some", "close to", "an estimated", "estimated"),
    "<": ("nearly", "almost", "just under", "under", "less than", "fewer than", "up to", "below"),
    ">": ("more than", "over", "at least", "just over", "above", "upwards of", "in excess of"),
}
_HEDGES = {phrase: mark for mark, phrases in _HEDGE_WORDS.items() for phrase in phrases}
# A range or a pair written with one unit: "5-6%", "between 1.5 and 2 billion euros".
_CONNECTORS = ("-", " - ", " to ", " and ", " or ")

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Capitalised words that are not names: sentence openers, pronouns, dates, summary headings.
_COMMON_WORDS = """
    a an the this that these those some any each every all both either neither no not none another
    other others such many much most more less few several own same i he she it we they you me him
    her his hers its our ours their theirs my mine your yours them who whom whose which what where
    when why how there here if then than so and but or nor yet for as because although though while
    whereas unless since after before during until till in on at by with without from to into onto
    of off over under about above below against between among amid amidst through throughout across
    per via despite according following including also however meanwhile moreover furthermore still
    instead now today yesterday tomorrow tonight last next earlier later once even only just already
    again yes indeed overall finally first second third additionally separately similarly elsewhere
    currently recently nevertheless nonetheless otherwise thus therefore hence perhaps maybe like
    unlike whether please key takeaway takeaways happened matters watch summary faq q
"""
_CURRENCY_CODES = {"usd", "eur", "gbp", "jpy", "aud", "cad"}
_NOT_NAMES = set(_MONTHS) | set(_WEEKDAYS) | set(_COMMON_WORDS.split()) | _CURRENCY_CODES
# A full stop after these does not end a sentence: "Mr. Smith", "Nov. 30", "Gen. Milley".
_ABBREVIATIONS = {m for m in _MONTHS if len(m) <= 4} | set(
    "mr mrs ms dr prof st sen rep gov gen lt col capt sgt vs mt ft rev hon".split()
)

# Linear patterns only: single character classes with one quantifier, fixed alternations.
_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_][\w'.-]*")
_TOKEN = re.compile(r"(?P<w>[^\W\d_][\w'.-]*)|(?P<d>[0-9]+)|\S")
# The engine scans quickly for a leading character class, so each pattern starts with one and
# checks the word boundary behind it (a hyphen too: "twenty-five" is no five). Candidates are
# confirmed in the dictionaries above.
_NUMBER_WORD = re.compile(
    r"[AaEeFfNnOoSsTt](?<![\w-][AaEeFfNnOoSsTt])"
    r"(?:ne|wo|hree|en|welve|our|ive|ix|even|ight|leven|ine|n?(?= (?:thousand|million|billion|trillion)\b))\b"
)
_CALENDAR_WORD = re.compile(r"[ADFJMNOSTW](?<!\w[ADFJMNOSTW])[a-z]{2,8}\b")
_MONTH_ABBREVIATIONS = {"Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"}
_QUOTE_MARK = re.compile('["\u201c\u201d\u201e\u00ab\u00bb]')


# str.translate with this table costs 20 ms on a 10,000-word article; a few replaces cost 0.1 ms.
_MARKS = [(chr(code), replacement) for code, replacement in _QUOTE_CHARS.items()]


def _cut(text: str, limit: int) -> str:
    """The text up to the limit, without the word the limit falls in ("9,000" must not become "9,0")."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if text[limit].isspace():
        return head
    space = max(head.rfind(" "), head.rfind("\n"))
    return head[:space] if space > 0 else head


def _prepare(text: str, limit: int) -> str:
    # NFKC turns thin and no-break spaces into spaces ("9 000") and full-width digits into digits;
    # it can lengthen a text, so the cap is applied again afterwards.
    text = unicodedata.normalize("NFKC", _cut(text, limit + 1))
    for mark, replacement in _MARKS:
        if mark in text:
            text = text.replace(mark, replacement)
    return _cut(text, limit)


def _is_digit(s: str, i: int) -> bool:
    return 0 <= i < len(s) and "0" <= s[i] <= "9"


def _is_letter(s: str, i: int) -> bool:
    return 0 <= i < len(s) and s[i].isalpha()


def _three_digits(s: str, i: int) -> bool:
    """Exactly three digits at s[i:], a thousands group."""
    return _is_digit(s, i) and _is_digit(s, i + 1) and _is_digit(s, i + 2) and not _is_digit(s, i + 3)


# ---------------------------------------------------------------- numbers, percentages, money


def _parse_number(s: str, i: int) -> tuple[int, Decimal | None, str]:
    """The number starting at s[i]: (end, value, literal). Thousands groups may be separated by
    commas or single spaces; "." is the decimal point. Versions, times and ratios ("3.2.1",
    "10:30", "24/7") and very long digit strings are kept as literal text."""
    j = _DIGITS.match(s, i).end()
    whole = s[i:j]
    if j - i <= 3:
        separator = ""
        while j + 3 < len(s) and s[j] in ", " and separator in ("", s[j]) and _three_digits(s, j + 1):
            separator = s[j]
            whole += s[j + 1 : j + 4]
            j += 4
    fraction = ""
    if s[j : j + 1] == "." and _is_digit(s, j + 1):
        k = _DIGITS.match(s, j + 1).end()
        fraction, j = s[j + 1 : k], k
    if s[j : j + 1] in (".", "/", ":") and _is_digit(s, j + 1):
        while s[j : j + 1] in (".", "/", ":") and _is_digit(s, j + 1):
            j = _DIGITS.match(s, j + 1).end()
        return j, None, "=" + s[i:j]
    if len(whole) + len(fraction) > 18:  # an identifier, not a quantity
        return j, None, "=" + whole + fraction
    return j, Decimal(f"{whole}.{fraction}" if fraction else whole), ""


class _Amount(NamedTuple):
    start: int
    end: int
    value: Decimal
    power: int  # the scale written with it: 6 for "million", "m" or "mn"
    kind: str  # number, percent or money
    currency: str


def _scale_after(s: str, j: int) -> tuple[int, int, bool]:
    """A scale right after a number: (end, power of ten, whether a % or currency may follow)."""
    glued = _LETTERS.match(s, j)
    if glued:
        word = glued.group().lower()
        if word in _SCALES:  # "3bn", "1.5m", "5million"
            return glued.end(), _SCALES[word], True
        # An ordinal ("30th"), a unit or a code ("10km", "5G") leaves the plain number.
        return (glued.end() if word in _ORDINALS else j), 0, False
    if s[j : j + 1] in (" ", "-"):
        apart = _LETTERS.match(s, j + 1)
        if apart and apart.group().lower() in _SCALE_WORDS:
            return apart.end(), _SCALES[apart.group().lower()], True
    return j, 0, True


def _unit_after(s: str, j: int) -> tuple[int, str, str]:
    """A percent sign or a currency written after a number: (end, kind, currency)."""
    if s[j : j + 1] == "%":
        return j + 1, "percent", ""
    if s[j : j + 1] not in (" ", "-"):
        return j, "number", ""
    k = j + 1
    if s[k : k + 1] == "%":
        return k + 1, "percent", ""
    found = _LETTERS.match(s, k)
    if not found:
        return j, "number", ""
    word, end = found.group().lower(), found.end()
    if word in ("percent", "pct"):
        return end, "percent", ""
    if word == "per" and s[end : end + 5].lower() == " cent" and not _is_letter(s, end + 5):
        return end + 5, "percent", ""
    if word == "percentage":
        point = _LETTERS.match(s, end + 1) if s[end : end + 1] == " " else None
        if point and point.group().lower() in ("point", "points"):
            return point.end(), "percent", ""
    if word == "us" and s[end : end + 1] == " ":  # "US dollars"
        dollars = _LETTERS.match(s, end + 1)
        if dollars and dollars.group().lower() in ("dollar", "dollars"):
            return dollars.end(), "money", "USD"
    if word in _CURRENCY_WORDS:
        return end, "money", _CURRENCY_WORDS[word]
    return j, "number", ""


def _currency_before(s: str, i: int) -> tuple[int, str]:
    """A currency symbol or code written before a number: (start, currency), or (i, "")."""
    k = i - 1 if s[i - 1 : i] == " " else i
    if k > 0 and s[k - 1] in _CURRENCY_SYMBOLS:
        start = k - 1
        if s[start] == "$":
            p = start
            while p > max(0, start - 2) and "A" <= s[p - 1] <= "Z":
                p -= 1
            if s[p:start] in _DOLLAR_PREFIXES and not _is_letter(s, p - 1):
                return p, _DOLLAR_PREFIXES[s[p:start]]
        return start, _CURRENCY_SYMBOLS[s[start]]
    if s[i - 1 : i] == " " and i >= 4:  # "USD 5m", "EUR 27 million"
        code = s[i - 4 : i - 1]
        if code.isupper() and code.lower() in _CURRENCY_WORDS and not _is_letter(s, i - 5):
            return i - 4, _CURRENCY_WORDS[code.lower()]
    return i, ""


def _hedge_before(s: str, start: int) -> tuple[int, str]:
    if s[start - 1 : start] == "~":
        return start - 1, "~"
    if s[start - 1 : start] != " ":
        return start, ""
    # The one or two words before the number, as in "about 9,000" or "more than 9,000"; a word
    # counts only if it is whole (a space or the start of the text before it).
    first = max(0, start - 20)
    words = s[first : start - 1].lower().split(" ")
    if len(words) >= 3 or (len(words) == 2 and first == 0):
        two = f"{words[-2]} {words[-1]}"
        if two in _HEDGES:
            return start - 1 - len(two), _HEDGES[two]
    if (len(words) >= 2 or first == 0) and words[-1] in _HEDGES:
        return start - 1 - len(words[-1]), _HEDGES[words[-1]]
    return start, ""


def _read_amount(s: str, i: int, j: int, value: Decimal) -> _Amount:
    """The amount whose number is s[i:j], with what is written around it."""
    end, power, unit_may_follow = _scale_after(s, j)
    kind, currency = "number", ""
    if unit_may_follow:
        end, kind, currency = _unit_after(s, end)
    start, symbol = _currency_before(s, i)
    if symbol and kind != "percent":
        kind, currency = "money", symbol
    else:
        start = i
    return _Amount(start, end, value, power, kind, currency)


def _next_amount(s: str, amount: _Amount) -> _Amount | None:
    """The second amount of a range or pair, if it follows right after: "5-6%", "1.5 to $2bn"."""
    for connector in _CONNECTORS:
        if s.startswith(connector, amount.end):
            k = amount.end + len(connector)
            break
    else:
        return None
    i = k + 1 if s[k : k + 1] in _CURRENCY_SYMBOLS else k
    if not _is_digit(s, i):
        return None
    j, value, literal = _parse_number(s, i)
    return None if literal else _read_amount(s, i, j, value)


def _canonical(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _with_range_unit(s: str, amount: _Amount) -> _Amount:
    """A bare first number takes the scale and unit of the second: "5-6%", "1.5 to 2 billion euros"."""
    second = _next_amount(s, amount)
    if not second or not (second.power or second.kind != "number"):
        return amount
    power = amount.power or second.power
    if amount.kind == "number":
        return amount._replace(power=power, kind=second.kind, currency=second.currency)
    if amount.kind == second.kind:  # "$1.5 to $2 billion"
        return amount._replace(power=power)
    return amount


def _amount_fact(
    s: str, i: int, j: int, value: Decimal, *, year: bool = False
) -> tuple[int, int, Fact, _Amount]:
    """The fact of the number s[i:j]. Keys: "9000", "5%", "EUR:27000000"; a hedge mark in front
    ("~", "<", ">") for "about", "nearly", "more than"; a plain year has no hedge and no range."""
    amount = _read_amount(s, i, j, value)
    plain_year = year and amount.power == 0 and amount.kind == "number"
    if not plain_year and amount.kind != "percent":
        amount = _with_range_unit(s, amount)
    start, hedge = (amount.start, "") if plain_year else _hedge_before(s, amount.start)
    number = _canonical(amount.value.scaleb(amount.power))
    if amount.kind == "percent":
        key = f"{hedge}{number}%"
    elif amount.kind == "money":
        key = f"{hedge}{amount.currency}:{number}"
    else:
        key = hedge + number
    return start, amount.end, Fact(amount.kind, s[start : amount.end], key), amount


def _numeric_facts(s: str, taken: set[int], found: list, *, source: bool) -> None:
    done = 0
    for match in islice(_DIGITS.finditer(s), ANCHOR_LIMIT):
        i = match.start()
        if i < done or i in taken:
            continue
        j, value, literal = _parse_number(s, i)
        done = j
        iso = _iso_date(s, i, j)
        if iso:
            done = i + 10
            found.append((i, done, Fact("date", s[i:done], iso)))
        elif literal:
            found.append((i, j, Fact("number", s[i:j], literal)))
        else:
            year = j - i == 4 and 1900 <= value <= 2100
            start, end, fact, _ = _amount_fact(s, i, j, value, year=year)
            done = max(done, end)
            found.append((start, end, fact))
    for match in islice(_NUMBER_WORD.finditer(s), ANCHOR_LIMIT):
        i, j = match.span()
        word = match.group().lower()
        if word not in _SMALL_NUMBERS:
            continue
        start, end, fact, amount = _amount_fact(s, i, j, Decimal(_SMALL_NUMBERS[word]))
        # "one" is more often a pronoun than a count; it is a fact only with a scale or a unit.
        if word in ("one", "a", "an") and not (amount.power or amount.kind != "number" or source):
            continue
        found.append((start, end, fact))


def _key_value(key: str) -> tuple[str, str]:
    """Split a numeric key into its hedge mark and the rest."""
    return (key[0], key[1:]) if key[:1] in ("~", "<", ">") else ("", key)


def _near(values: list[Decimal], target: Decimal, hedge: str) -> bool:
    """Is a value in the sorted list equal to the target, or within what the hedge allows?"""
    low = high = target
    if hedge and target > 0:
        precision = Decimal(1).scaleb(target.normalize().as_tuple().exponent)
        tolerance = min(precision / 2 if hedge == "~" else precision, target / 10)
        low = target if hedge == ">" else target - tolerance
        high = target if hedge == "<" else target + tolerance
    i = bisect_left(values, low)
    return i < len(values) and values[i] <= high


def _same_currency(a: str, b: str) -> bool:
    return a == b or (a == "$" and b in _DOLLARS) or (b == "$" and a in _DOLLARS)


# ---------------------------------------------------------------- dates


def _iso_date(s: str, i: int, j: int) -> str:
    """ "2026-11-30" at s[i:] as a key, or ""."""
    if j - i != 4 or s[j : j + 1] != "-" or s[j + 3 : j + 4] != "-" or _is_digit(s, j + 6):
        return ""
    if not all(_is_digit(s, k) for k in (j + 1, j + 2, j + 4, j + 5)):
        return ""
    month, day = int(s[j + 1 : j + 3]), int(s[j + 4 : j + 6])
    return s[i : i + 10] if 1 <= month <= 12 and 1 <= day <= 31 else ""


def _day_digits_back(s: str, e: int) -> int:
    """Start of the one- or two-digit day ending at s[e - 1], or -1."""
    b = e
    while b > e - 2 and _is_digit(s, b - 1):
        b -= 1
    if b == e or _is_digit(s, b - 1) or _is_letter(s, b - 1) or s[b - 1 : b] in (".", ","):
        return -1
    return b


def _day_before(s: str, start: int) -> tuple[int, list[int], list[int]] | None:
    """ "30 November", "30th of November", "30-31 November": (start, days, digit positions)."""
    if s[start - 1 : start] != " ":
        return None
    e = start - 1
    if s[e - 3 : e] == " of":
        e -= 3
    if s[e - 2 : e].lower() in _ORDINALS and _is_digit(s, e - 3):
        e -= 2
    b = _day_digits_back(s, e)
    if b < 0:
        return None
    days, runs = [int(s[b:e])], [b]
    if s[b - 1 : b] == "-" and _is_digit(s, b - 2):
        first = _day_digits_back(s, b - 1)
        if first >= 0:
            days.insert(0, int(s[first : b - 1]))
            runs.insert(0, first)
            b = first
    return (b, days, runs) if all(1 <= d <= 31 for d in days) else None


def _day_after(s: str, end: int) -> tuple[int, list[int], list[int]] | None:
    """ "November 30", "Nov. 30th", "November 30-31": (end, days, digit positions)."""
    if s[end : end + 1] != " " or not _is_digit(s, end + 1):
        return None
    days, runs, k = [], [], end + 1
    while True:
        e = _DIGITS.match(s, k).end()
        if e - k > 2:
            return None
        days.append(int(s[k:e]))
        runs.append(k)
        if s[e : e + 2].lower() in _ORDINALS and not _is_letter(s, e + 2):
            e += 2
        elif _is_letter(s, e):
            return None
        if s[e : e + 1] in (",", ".", ":") and _is_digit(s, e + 1):  # "30,000", "5.5", "5:30"
            return None
        if len(days) == 1 and s[e : e + 1] == "-" and _is_digit(s, e + 1):
            k = e + 1
            continue
        break
    return (e, days, runs) if all(1 <= d <= 31 for d in days) else None


def _year_after(s: str, end: int) -> tuple[int, int, int] | None:
    """ ", 2026" or " 2026" after a date: (end, year, digit position)."""
    k = end + 1 if s[end : end + 1] == "," else end
    if s[k : k + 1] != " " or not _is_digit(s, k + 1):
        return None
    e = _DIGITS.match(s, k + 1).end()
    if e - k - 1 != 4 or _is_letter(s, e) or (s[e : e + 1] in (",", ".", "-", "/") and _is_digit(s, e + 1)):
        return None
    year = int(s[k + 1 : e])
    return (e, year, k + 1) if 1900 <= year <= 2100 else None


def _dates(s: str, taken: set[int], found: list) -> None:
    """Date keys: "2026-11-30", "--11-30" (no year), "2026-11", "--11" (a month), "monday"."""
    for match in islice(_CALENDAR_WORD.finditer(s), ANCHOR_LIMIT):
        name = match.group()
        if name.lower() in _WEEKDAYS:
            found.append((match.start(), match.end(), Fact("date", name, name.lower())))
        month = _MONTHS.get(name.lower())
        if not month:
            continue
        start, end = match.span()
        if name in _MONTH_ABBREVIATIONS and s[end : end + 1] == ".":  # "Nov. 30"
            end += 1
        days: list[int] = []
        runs: list[int] = []
        before = _day_before(s, start)
        if before:
            start, days, runs = before
        else:
            after = _day_after(s, end)
            if after:
                end, days, runs = after
        year = 0
        with_year = _year_after(s, end)
        if with_year:
            end, year, run = with_year
            runs.append(run)
        if not days and not year and (name in _MONTH_ABBREVIATIONS or name == "May"):
            continue  # "May" alone is a verb as often as a month; "Mar" or "Jun" alone is no date
        taken.update(runs)
        if days:
            for day in days:
                key = f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"
                found.append((start, end, Fact("date", s[start:end], key)))
        else:
            key = f"{year:04d}-{month:02d}" if year else f"--{month:02d}"
            found.append((start, end, Fact("date", s[start:end], key)))


# ---------------------------------------------------------------- names


def _fold(word: str) -> str:
    """Case and accents do not matter once a name is found: "Erdoğan" = "Erdogan", "Muller" = "Müller"."""
    if not word.isascii():
        word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return word.casefold()


def _word_core(token: str) -> tuple[str, bool, bool]:
    """A word token without trailing punctuation and possessive: (core, possessive, ends sentence)."""
    core = token.rstrip(".'-")
    # "U.S." and "J." do not end a sentence, nor does "Mr."; "a.m." or "etc." may.
    ends = token.endswith(".") and not (
        ("." in core and not core.islower()) or len(core) == 1 or core.casefold() in _ABBREVIATIONS
    )
    possessive = core.endswith(("'s", "'S")) or token.rstrip(".").endswith("'")
    if core.endswith(("'s", "'S")):
        core = core[:-2]
    return core, possessive, ends


def _name_part(core: str) -> str:
    """The name in a capitalised hyphenated word: "Biden-era" -> "Biden"; "Ocasio-Cortez" and
    "COVID-19" stay whole."""
    if "-" not in core or not core[0].isupper():
        return core
    kept = []
    for part in core.split("-"):
        if not part or not (part[0].isupper() or part[0].isdigit()):
            break
        kept.append(part)
    return "-".join(kept)


def _name_key(part: str) -> str:
    return _fold(part.replace(".", ""))  # "U.S." = "US", "J.K." = "JK"


def _names(s: str) -> list[tuple[int, int, Fact]]:
    """Runs of capitalised words. A single word that opens a sentence is a name only if the text
    also capitalises it mid-sentence ("Officials said" is not a name, "Biden said" is when Biden
    appears again); a run of two or more is a name wherever it stands."""
    runs: list[tuple[int, int, list[str], bool]] = []
    run: list[tuple[int, int, str]] = []
    run_opens_sentence = False
    at_start, previous_end = True, 0

    def close() -> None:
        if run:
            runs.append((run[0][0], run[-1][1], [w for _, _, w in run], run_opens_sentence))
            run.clear()

    for token in _TOKEN.finditer(s):
        start = token.start()
        if "\n" in s[previous_end:start]:
            close()
            at_start = True
        previous_end = token.end()
        if token.lastgroup == "w":
            core, possessive, ends = _word_core(token.group())
            part = _name_part(core)
            key = _name_key(part)
            # "US$5m", "C$150": the letters belong to the currency.
            if core[:1].isupper() and key not in _NOT_NAMES and s[token.end() : token.end() + 1] != "$":
                if not run:
                    run_opens_sentence = at_start
                run.append((start, start + len(part), key))
                if possessive:
                    close()
            else:
                close()
            at_start = False
            if ends:
                close()
                at_start = True
        elif token.lastgroup == "d":
            close()
            at_start = False
        else:
            close()
            mark = token.group()
            if mark in "!?:" or (mark == "." and not _is_digit(s, token.end())):
                at_start = True
            elif mark == '"' and s[token.end() : token.end() + 1].isalpha():  # a quotation opens
                at_start = True
    close()

    mid_sentence = set()
    for _, _, words, opens in runs:
        mid_sentence.update(words[1:] if opens else words)
    return [
        (start, end, Fact("name", s[start:end], " ".join(words)))
        for start, end, words, opens in runs
        if not opens or len(words) > 1 or words[0] in mid_sentence
    ]


# ---------------------------------------------------------------- the public API


def _scan(s: str, *, source: bool) -> list[tuple[int, int, Fact]]:
    taken: set[int] = set()  # digit runs read as a day or a year of a date
    found: list[tuple[int, int, Fact]] = []
    _dates(s, taken, found)
    _numeric_facts(s, taken, found, source=source)
    return found


def facts_in(text: str) -> list[Fact]:
    """Every fact in a text (up to TEXT_LIMIT characters), in order, once per (kind, key)."""
    s = _prepare(text, TEXT_LIMIT)
    found = _scan(s, source=False) + _names(s)
    found.sort(key=lambda item: item[0])
    seen: set[tuple[str, str]] = set()
    facts = []
    for _, _, fact in found:
        if (fact.kind, fact.key) not in seen:
            seen.add((fact.kind, fact.key))
            facts.append(fact)
    return facts


def _source_word_key(token: str) -> str:
    plain = token.rstrip(".")
    if plain.isalpha() and plain.isascii():  # most words: nothing else to strip or fold
        return plain.lower()
    return _name_key(_name_part(_word_core(token)[0]))


# Small words that an acronym skips: "Competition and Markets Authority" is the CMA.
_ACRONYM_SKIPS = {"and", "of", "for", "the", "on", "&"}


def _acronyms(tokens: list[str]) -> set[str]:
    """Acronyms of three to eight letters that runs of capitalised words in a source spell."""
    found: set[str] = set()
    initials = ""
    for token in [*tokens, "."]:
        if token[0].isupper():
            initials += token[0]
        elif token not in _ACRONYM_SKIPS:
            for i in range(len(initials) - 2):
                found.update(initials[i:j].casefold() for j in range(i + 3, min(len(initials), i + 8) + 1))
            initials = ""
    return found


class FactIndex:
    """What one source states, built once and asked many times.

    A number is supported by the same value written any way (also as a percentage, an amount or
    a year of the source); a percentage only by the same percentage; an amount by the same
    amount in the same currency (a bare "$" or "dollars" agrees with any dollar), never by a bare
    number. A date needs the same day and month; a year written with it must be the source's
    year for that day, or, when the source gives the day without a year, occur in the source
    (or the source names no year at all). A name is supported when its words occur in that order
    in the source, or, for a name of two or more words, when its last word is capitalised in the
    source ("President Joe Biden" by "Biden said"), singular or plural; an acronym in capitals
    also by the initials of a capitalised run ("CMA" by "Competition and Markets Authority").
    Hedged figures ("about 9,000") may be rounded, see _near.
    """

    def __init__(self, text: str) -> None:
        s = _prepare(text, SOURCE_LIMIT)
        numbers: list[Decimal] = []
        percents: list[Decimal] = []
        money: dict[str, list[Decimal]] = {}
        self._literals: set[str] = set()
        self._years: set[int] = set()
        self._dated_days: set[tuple[int, int, int]] = set()
        self._days: set[tuple[int, int]] = set()
        self._undated_days: set[tuple[int, int]] = set()
        self._month_years: set[tuple[int, int]] = set()
        self._months: set[int] = set()
        self._undated_months: set[int] = set()
        self._weekdays: set[str] = set()
        for _, _, fact in _scan(s, source=True):
            _, key = _key_value(fact.key)
            if fact.kind == "date":
                self._add_date(key, numbers)
            elif key.startswith("="):
                self._literals.add(key)
            elif fact.kind == "money":
                currency, _, amount = key.partition(":")
                money.setdefault(currency, []).append(Decimal(amount))
                numbers.append(Decimal(amount))
            else:
                value = Decimal(key.rstrip("%"))
                numbers.append(value)
                if fact.kind == "percent":
                    percents.append(value)
                elif 1900 <= value <= 2100 and value == value.to_integral_value():
                    self._years.add(int(value))
        self._numbers = sorted(numbers)
        self._percents = sorted(percents)
        self._money = {currency: sorted(values) for currency, values in money.items()}
        self._index_words(s)

    def _add_date(self, key: str, numbers: list[Decimal]) -> None:
        if key[:1].isalpha():
            self._weekdays.add(key)
            return
        parts = [int(p) for p in key.lstrip("-").split("-")]
        if key.startswith("--"):
            self._months.add(parts[0])
            self._undated_months.add(parts[0])
            if len(parts) == 2:
                self._days.add((parts[0], parts[1]))
                self._undated_days.add((parts[0], parts[1]))
            return
        year, month = parts[0], parts[1]
        self._years.add(year)
        numbers.append(Decimal(year))
        self._months.add(month)
        self._month_years.add((year, month))
        if len(parts) == 3:
            self._dated_days.add((year, month, parts[2]))
            self._days.add((month, parts[2]))
            try:
                self._weekdays.add(_WEEKDAYS[datetime.date(year, month, parts[2]).weekday()])
            except ValueError:  # "February 30": kept as written, no weekday
                pass

    def _index_words(self, s: str) -> None:
        self._text = s
        keys = {token: _source_word_key(token) for token in set(_WORD.findall(s))}  # a few thousand
        self._words = set(keys.values())
        self._capitalised = {key for token, key in keys.items() if token[0].isupper()}
        for key in [k for k in self._words if "-" in k]:  # "Ocasio-Cortez" supports "Cortez"
            self._words.update(key.split("-"))
            if key in self._capitalised:
                self._capitalised.update(key.split("-"))

    # Needed only for a name whose last word the source never capitalises, or for an acronym
    # the source spells out: built on first use.
    @cached_property
    def _word_text(self) -> str:
        keys = {token: _source_word_key(token) for token in set(_WORD.findall(self._text))}
        return " " + " ".join([keys[t] for t in _WORD.findall(self._text)]) + " "

    @cached_property
    def _acronyms(self) -> set[str]:
        return _acronyms(_WORD.findall(self._text))

    def supports(self, fact: Fact) -> bool:
        try:
            if fact.kind == "name":
                return self._supports_name(fact.key, acronym=fact.text.isupper())
            if fact.kind == "date":
                return self._supports_date(fact.key)
            hedge, key = _key_value(fact.key)
            if fact.kind == "number":
                return (
                    key in self._literals
                    if key.startswith("=")
                    else _near(self._numbers, Decimal(key), hedge)
                )
            if fact.kind == "percent":
                return _near(self._percents, Decimal(key.rstrip("%")), hedge)
            if fact.kind == "money":
                currency, _, amount = key.partition(":")
                value = Decimal(amount)
                return any(
                    _same_currency(currency, theirs) and _near(values, value, hedge)
                    for theirs, values in self._money.items()
                )
        except (InvalidOperation, ValueError, IndexError):  # a key this module did not make
            return False
        return False

    def _supports_date(self, key: str) -> bool:
        if key[:1].isalpha():
            return key in self._weekdays
        parts = [int(p) for p in key.lstrip("-").split("-")]
        if key.startswith("--"):
            return (parts[0], parts[1]) in self._days if len(parts) == 2 else parts[0] in self._months
        year, month = parts[0], parts[1]
        year_stated = year in self._years or not self._years
        if len(parts) == 3:
            day = parts[2]
            return (year, month, day) in self._dated_days or (
                (month, day) in self._undated_days and year_stated
            )
        return (year, month) in self._month_years or (month in self._undated_months and year_stated)

    def _supports_name(self, key: str, *, acronym: bool) -> bool:
        words = key.split(" ")
        if len(words) == 1:
            return bool(_plural_variants(key) & self._words) or (acronym and key in self._acronyms)
        if _plural_variants(words[-1]) & self._capitalised:
            return True
        # The substring search runs only when every word is in the source somewhere.
        return all(w in self._words for w in words) and f" {key} " in self._word_text


def _plural_variants(word: str) -> set[str]:
    """A name in the singular or the plural: "South Korean" is in "three South Koreans"."""
    return {word, word + "s", word[:-1]} if word.endswith("s") and len(word) > 3 else {word, word + "s"}


def unsupported_facts(text: str, sources: Sequence[FactIndex]) -> list[Fact]:
    """The facts of `text` that no source supports."""
    return [fact for fact in facts_in(text) if not any(source.supports(fact) for source in sources)]


def new_facts(text: str, known: Sequence[FactIndex], kinds: Collection[str] = NUMERIC_KINDS) -> list[Fact]:
    """The facts of a newly arrived article, of the given kinds, that no known text states:
    whether the article brings something new to a story."""
    return [f for f in facts_in(text) if f.kind in kinds and not any(k.supports(f) for k in known)]


def _quotations(s: str) -> list[str]:
    """Text between quotation marks. Curly marks say which way they face; a straight one opens
    when no quotation is open. A new opening mark inside an open quotation (a quotation running
    over several paragraphs) ends the part before it."""
    quotations, opened = [], -1
    for mark in _QUOTE_MARK.finditer(s):
        c, at = mark.group(), mark.start()
        if c in "\u201c\u201e\u00ab" or (c == '"' and opened < 0):
            if opened >= 0:
                quotations.append(s[opened:at])
            opened = at + 1
        elif opened >= 0:
            quotations.append(s[opened:at])
            opened = -1
    return quotations


def new_quotations(text: str, known_texts: Sequence[str], min_words: int = 6) -> list[str]:
    """Direct quotations of at least `min_words` words in `text` that no known text contains,
    compared like evidence quotes (case, spacing, quotation marks and dashes do not matter).
    An ellipsis stands for left-out words: each part must be found in the same known text."""
    s = unicodedata.normalize("NFKC", text[:TEXT_LIMIT])
    haystacks = [normalise(known[:SOURCE_LIMIT]) for known in known_texts]
    found, seen = [], set()
    for quotation in _quotations(s):
        words = quotation.split()
        if len(words) < min_words:
            continue
        quote = " ".join(words)
        if normalise(quote) in seen:
            continue
        seen.add(normalise(quote))
        parts = [p.strip(" []") for p in quote.split("...")]
        parts = [p for p in parts if p]
        if not any(all(quote_in_text(p, h) for p in parts) for h in haystacks):
            found.append(quote)
    return found
