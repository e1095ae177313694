"""The offline backend: picks sentences from the article itself. No network, no cost.

Deterministic (same text, same summary) and honest by construction: every field is a
sentence of the article, every evidence quote is that same sentence, so grounding is 1.0.
The FAQ only gets an entry when a simple, checkable pattern makes the question honest (a
money figure answers "how much", a reported statement answers "what was said"); otherwise
it stays empty. Editors see these summaries labelled "Extractive (offline)".
"""

from __future__ import annotations

import re

from .base import BackendReply, SummarizerError, SummaryRequest, Usage

MIN_WORDS, MAX_WORDS = 6, 60
MIN_CJK_CHARS, MAX_CJK_CHARS = 12, 160  # for scripts written without spaces

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace, at a CJK
# full stop, or at a line break; "2.4" and "example.com" do not end one.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'”’»)\]])\s+|(?<=[。！？])|\n+")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sen|Rep|Gov|Gen|Lt|Col|Sgt|Jr|Sr|Inc|Corp|Co|Ltd|No|vs|etc|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z](?:\.[A-Z])*)\.$"
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")
_WHY = re.compile(
    r"\b(because|means?|could|would|affect\w*|impact\w*|important|significan\w*|concern\w*|"
    r"risk\w*|critic\w*|support\w*|allow\w*|threat\w*|cost\w*|so that|as a result)\b",
    re.IGNORECASE,
)
_NEXT = re.compile(
    r"\b(will|plans?|planned|expected|next|later|scheduled|deadline|upcoming|until|soon|"
    r"future|remains? (?:unclear|to be seen)|is set to|are set to)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\d[\d,.]*\s?(?:million|billion|trillion|dollars|euros|pounds|yuan|yen)\b",
    re.IGNORECASE,
)
_SAID = re.compile(r"\b(said|says|told|according to|stated|announced)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"cookie|subscribe|newsletter|all rights reserved|©|click here|sign up|advertisement",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Sentences as exact slices of `text` (stripped of surrounding whitespace only)."""
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        piece = text[start : boundary.start()]
        if "\n" not in boundary.group(0) and _ABBREVIATION.search(piece):
            continue  # "Mr. Smith", "U.S. officials": not a sentence end
        sentences.append(piece.strip())
        start = boundary.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def candidate_sentences(text: str) -> list[str]:
    """Sentences that can stand alone as a summary line, each a verbatim slice of `text`."""
    found: list[str] = []
    for sentence in split_sentences(text):
        if not _LETTER.search(sentence) or _BOILERPLATE.search(sentence):
            continue
        if _CJK.search(sentence) and len(sentence.split()) < MIN_WORDS:
            size_ok = MIN_CJK_CHARS <= len(sentence) <= MAX_CJK_CHARS
        else:
            size_ok = MIN_WORDS <= len(sentence.split()) <= MAX_WORDS
        if size_ok and sentence not in found:
            found.append(sentence)
    return found


def _pick(sentences: list[str], used: set[str], pattern: re.Pattern | None, *, last: bool = False) -> str:
    pool = [s for s in sentences if s not in used]
    if not pool:
        pool = sentences  # a very short article repeats a sentence rather than invent one
    matching = [s for s in pool if pattern is None or pattern.search(s)]
    chosen = (matching or pool)[-1 if last else 0]
    used.add(chosen)
    return chosen


class ExtractiveSummarizer:
    name = "extractive"
    model = "extractive"
    kind = "extractive"
    supports_batches = False

    def summarize(self, request: SummaryRequest) -> BackendReply:
        sentences = candidate_sentences(request.text)
        if not sentences:
            raise SummarizerError("The article has no complete sentence to summarise.", retryable=False)
        used: set[str] = set()
        takeaway = _pick(sentences, used, None)
        happened = _pick(sentences, used, None)
        matters = _pick(sentences, used, _WHY)
        later_half = sentences[len(sentences) // 2 :]
        watch = _pick(later_half, used, _NEXT, last=True)
        faq = []
        for question, pattern in (
            ("How much money is involved?", _MONEY),
            ("What did those involved say?", _SAID),
        ):
            matching = [s for s in sentences if pattern.search(s)]
            # Prefer a sentence no key point uses; repeating one is redundant but still honest.
            answer = next((s for s in matching if s not in used), matching[0] if matching else None)
            if answer:
                used.add(answer)
                faq.append({"question": question, "answer": answer, "evidence": [answer]})
        data = {
            "key_takeaway": takeaway,
            "key_points": [
                {"heading": "What happened", "text": happened, "evidence": [happened]},
                {"heading": "Why it matters", "text": matters, "evidence": [matters]},
                {"heading": "What to watch", "text": watch, "evidence": [watch]},
            ],
            "faq": faq,
            "suggested_topics": [],
        }
        if request.is_story:
            data = _as_story(data, request)
        return BackendReply(data=data, usage=Usage(), model=self.model)


def _as_story(data: dict, request: SummaryRequest) -> dict:
    """The extractive summary in the story schema. Its sentences come from the lead (source 1),
    the text above; a point is also credited to another source that carries the same
    sentence. The update line names the sources a model would have read."""
    texts = {d.n: d.text for d in request.documents}

    def cite(item: dict) -> dict:
        quotes = item.pop("evidence")
        item["citations"] = [
            {"source": n, "quote": quote} for quote in quotes for n, text in texts.items() if quote in text
        ][:3] or [{"source": 1, "quote": q} for q in quotes]
        return item

    others = [d.source for d in request.documents[1:]]
    line = f"Also reported by {', '.join(others)}."[:300] if request.current_summary and others else ""
    return {
        **data,
        "key_points": [cite(p) for p in data["key_points"]],
        "faq": [cite(q) for q in data["faq"]],
        "disagreements": [],
        "update": {"is_new": True, "line": line},
    }
