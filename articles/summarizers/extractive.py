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

_SENTENCE = re.compile(r"[^\n.!?。！？]+(?:[.!?。！？]+[\"'”’»)\]]*|(?=\n)|$)")
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


def candidate_sentences(text: str) -> list[str]:
    """Sentences that can stand alone as a summary line, each a verbatim slice of `text`."""
    found: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        if not sentence or not _LETTER.search(sentence) or _BOILERPLATE.search(sentence):
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
            answer = next((s for s in sentences if s not in used and pattern.search(s)), None)
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
        return BackendReply(data=data, usage=Usage(), model=self.model)
