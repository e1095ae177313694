"""Output validation: the model's reply is untrusted until it passes these rules.

Errors send the reply back to the model once (with the errors); a second failure sends the
article to review. The rules: the schema (exactly three key points with the fixed headings in
order), length limits, plain text only, and no URL that the article does not contain.

A story reply is stricter about addresses: none at all except the sources' own (the address
of a cited report, or its site's domain name) and domain names that are names in the story (in
a source's headline, or in two or more sources: "Booking.com"). Its sources are several pages
written outside the newsroom, and one of them may plant "visit deals.example" for the model to
repeat, so an address is not trusted because one source contains it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from articles.models import KEY_POINT_HEADINGS

from .schema import StorySummaryOutput, SummaryOutput

TAKEAWAY_WORD_LIMIT = 75  # the prompt asks for 60 ("about 60 words"); this is the hard stop
MAX_SENTENCES = 3

_HTML = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|&(?:lt|gt|amp|quot|#\d+);")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+"
    # Bare domains too ("evil.example/win", "deals.xyz"): a link needs no scheme to be clicked.
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|info|biz|xyz|app|dev|ly|me|ru|cn|top|site|example)\b[^\s<>\"')\]]*",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?。！？](?:[\"'”’)]*)(?=\s|$)")


@dataclass
class ValidationOutcome:
    output: SummaryOutput | StorySummaryOutput | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.output is not None and not self.errors


def _sentence_count(text: str) -> int:
    return max(1, len(_SENTENCE_END.findall(text.strip())))


def _texts(output: SummaryOutput | StorySummaryOutput) -> list[tuple[str, str]]:
    rows = [("key_takeaway", output.key_takeaway)]
    for i, p in enumerate(output.key_points):
        rows += [(f"key_points[{i}].text", p.text)] + [(f"key_points[{i}].evidence", q) for q in _quotes(p)]
    for i, q in enumerate(output.faq):
        rows += [(f"faq[{i}].question", q.question), (f"faq[{i}].answer", q.answer)]
        rows += [(f"faq[{i}].evidence", e) for e in _quotes(q)]
    if isinstance(output, StorySummaryOutput):
        for i, d in enumerate(output.disagreements):
            rows += [(f"disagreements[{i}].fact", d.fact)] + [
                (f"disagreements[{i}].says", c.says) for c in d.claims
            ]
        if output.update is not None:
            rows.append(("update.line", output.update.line))
    return rows


def _quotes(item) -> list[str]:
    citations = getattr(item, "citations", None)
    return [c.quote for c in citations] if citations is not None else list(item.evidence)


def validate_output(data: Any, *, article_text: str, topics: list[str]) -> ValidationOutcome:
    """Parse and check one reply for one article. Never raises: problems come back as error strings."""
    lowered_text = article_text.lower()

    def check_url(where: str, url: str) -> str:
        return (
            "" if url.lower() in lowered_text else f"{where} contains a URL that is not in the article: {url}"
        )

    return _validate(data, model=SummaryOutput, topics=topics, check_url=check_url)


def validate_story_output(
    data: Any, *, documents: list, topics: list[str], updating: bool = False
) -> ValidationOutcome:
    """Parse and check one story reply: the rules of validate_output, plus every citation and
    disagreement names a source the request numbered, a disagreement sets at least two
    sources against each other, and no web address but the sources' own (module docstring).

    `updating`: the request carried the story's current summary. The reply must then say
    whether it adds anything (`update.is_new`) and, when it does, what in `update.line`: a
    new version readers would get without a line would replace the one they saw silently,
    and its update would never reach the timeline, the digest or the feeds. "Nothing new"
    (is_new false) is a valid answer; it stores no version."""
    allowed = _own_addresses(documents) | _names_like_addresses(documents)

    def check_url(where: str, url: str) -> str:
        if _bare_address(url) in allowed:
            return ""
        return f"{where} contains a web address that is not one of the sources' own: {url}"

    outcome = _validate(data, model=StorySummaryOutput, topics=topics, check_url=check_url)
    if outcome.output is None:
        return outcome
    numbers = {d.n for d in documents}
    output = outcome.output
    cited = [(f"key_points[{i}]", c.source) for i, p in enumerate(output.key_points) for c in p.citations]
    cited += [(f"faq[{i}]", c.source) for i, q in enumerate(output.faq) for c in q.citations]
    cited += [(f"disagreements[{i}]", c.source) for i, d in enumerate(output.disagreements) for c in d.claims]
    for where, n in cited:
        if n not in numbers:
            outcome.errors.append(
                f"{where} cites source {n}, but the sources are numbered 1 to {len(documents)}."
            )
    for i, d in enumerate(output.disagreements):
        named = sorted({c.source for c in d.claims})
        if len(named) < 2:
            # One source saying two things is not sources disagreeing; it would still flag
            # the story and show the desk a conflict that is not there.
            outcome.errors.append(
                f"disagreements[{i}] names only source {named[0]}: a disagreement sets what two or "
                "more different sources say against each other."
            )
    if updating:
        if output.update is None:
            outcome.errors.append(
                "update is missing: the request gives a current summary, so set update.is_new and, "
                "when it is true, write update.line saying what is new."
            )
        elif output.update.is_new and not output.update.line.strip():
            outcome.errors.append(
                "update.line is empty although update.is_new is true: say in one sentence what is "
                "new, or set is_new to false if nothing is."
            )
    return outcome


def _bare_address(url: str) -> str:
    """An address without scheme, "www.", trailing slash or case: how it is compared."""
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.strip().lower(), count=1)
    return url.rstrip("/")


def _own_addresses(documents: list) -> set[str]:
    """The addresses a story summary may name: each source's report and its site's domain name.
    Naming the publication that reported something is attribution, and both lead where the
    reader page links anyway."""
    own = set()
    for d in documents:
        if not d.url:
            continue
        own.add(_bare_address(d.url))
        host = urlsplit(d.url).hostname or ""
        if host:
            own.add(_bare_address(host))
    return own


def _names_like_addresses(documents: list) -> set[str]:
    """Bare domain names that are names here ("Booking.com", "Amazon.com"): in a source's
    headline, or in the texts of two or more sources. One source cannot make a name of a
    domain it plants in its text; a company the story is about is named by its reporters."""
    in_headlines = {address for d in documents for address in _bare_domains(d.title)}
    in_texts = Counter(address for d in documents for address in _bare_domains(d.text))
    return in_headlines | {address for address, sources in in_texts.items() if sources >= 2}


def _bare_domains(text: str) -> set[str]:
    """The domain names in `text` standing alone (no scheme, no path), each once."""
    found = {_bare_address(match.rstrip(".,;:!?")) for match in _URL.findall(text or "")}
    return {address for address in found if "/" not in address and ":" not in address}


def _validate(
    data: Any, *, model: type, topics: list[str], check_url: Callable[[str, str], str]
) -> ValidationOutcome:
    if not isinstance(data, dict):
        return ValidationOutcome(None, ["The reply was not a JSON object with the summary fields."])
    # Headings are checked first with a plain message: it is the most common model slip.
    points = data.get("key_points")
    if isinstance(points, list):
        headings = [p.get("heading") if isinstance(p, dict) else None for p in points]
        if headings != list(KEY_POINT_HEADINGS):
            return ValidationOutcome(
                None,
                [
                    f"key_points must be exactly three, headed {', '.join(KEY_POINT_HEADINGS)} "
                    f"in that order; got {headings}."
                ],
            )
    try:
        output = model.model_validate(data)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(x) for x in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()]
        return ValidationOutcome(None, errors[:10])

    errors: list[str] = []
    words = len(output.key_takeaway.split())
    if words > TAKEAWAY_WORD_LIMIT:
        errors.append(f"key_takeaway has {words} words; the limit is 60.")
    for i, p in enumerate(output.key_points):
        if _sentence_count(p.text) > MAX_SENTENCES:
            errors.append(f"key_points[{i}] ({p.heading}) has more than three sentences.")
    for i, q in enumerate(output.faq):
        if _sentence_count(q.answer) > MAX_SENTENCES:
            errors.append(f"faq[{i}].answer has more than three sentences.")

    for where, value in _texts(output):
        if _HTML.search(value):
            errors.append(f"{where} contains HTML; fields are plain text only.")
        for url in _URL.findall(value):
            if error := check_url(where, url.rstrip(".,;:!?")):
                errors.append(error)

    # Topics are advisory: names not on the site's list are dropped quietly; they are not
    # worth a second paid call, nor a flag that would stop an otherwise clean auto-publish.
    by_lower = {t.lower(): t for t in topics}
    kept = [by_lower[t.strip().lower()] for t in output.suggested_topics if t.strip().lower() in by_lower]
    output = output.model_copy(update={"suggested_topics": list(dict.fromkeys(kept))})
    return ValidationOutcome(output, errors)
