"""The offline extractive backend on real-world article texts from ../shared/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from articles.summarizers.base import SummarizerError, SummaryRequest
from articles.summarizers.extractive import ExtractiveSummarizer, candidate_sentences
from articles.summarizers.grounding import check_grounding
from articles.summarizers.validation import validate_output
from tests import factories

# Next to the project checkout; a git worktree under /work/wt/<name> sits one level deeper.
FIXTURES = next(
    (
        base / "shared" / "fixtures" / "articles"
        for base in (Path(settings.BASE_DIR).parent, Path(settings.BASE_DIR).parent.parent)
        if (base / "shared" / "fixtures" / "articles").is_dir()
    ),
    Path(settings.BASE_DIR).parent / "shared" / "fixtures" / "articles",
)
BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "blockquote", "pre")


def fixture_texts() -> list[tuple[str, Path]]:
    if not FIXTURES.is_dir():
        return []
    found = []
    for folder in sorted(FIXTURES.iterdir()):
        for name in ("expected.txt", "expected.html"):
            if (folder / name).is_file():
                found.append((folder.name, folder / name))
                break
    return found


def article_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".txt":
        return raw
    import lxml.html  # comes with trafilatura

    doc = lxml.html.fromstring(raw)
    return "\n\n".join(t for el in doc.iter(*BLOCKS) if (t := " ".join(el.text_content().split())))


CASES = fixture_texts()


@pytest.mark.skipif(not CASES, reason="shared fixtures (../shared/fixtures/articles) are not present")
@pytest.mark.parametrize(("name", "path"), CASES, ids=[c[0] for c in CASES])
def test_extractive_summaries_of_real_articles_quote_them_verbatim(name, path):
    text = article_text(path)
    reply = ExtractiveSummarizer().summarize(SummaryRequest(title=name, source="fixture", text=text))

    validated = validate_output(reply.data, article_text=text, topics=[])
    assert validated.ok, validated.errors
    output = validated.output
    quotes = [q for p in output.key_points for q in p.evidence] + [q for f in output.faq for q in f.evidence]
    assert all(q in text for q in quotes)  # verbatim, not merely after normalisation
    assert check_grounding(output, text).score == 1.0
    assert output.key_takeaway.strip() and all(p.text.strip() for p in output.key_points)
    if len(candidate_sentences(text)) >= 4:  # enough text: three different sentences for the points
        assert len({p.text for p in output.key_points}) == 3


def test_the_extractive_backend_is_deterministic():
    request = SummaryRequest(title="t", source="s", text=factories.ARTICLE_TEXT)
    first = ExtractiveSummarizer().summarize(request).data
    assert ExtractiveSummarizer().summarize(request).data == first


def test_the_faq_is_only_formed_when_the_article_answers_it():
    money = ExtractiveSummarizer().summarize(
        SummaryRequest(title="t", source="s", text=factories.ARTICLE_TEXT)
    )
    assert [f["question"] for f in money.data["faq"]] == ["How much money is involved?"]
    assert "2.4 billion dollars" in money.data["faq"][0]["answer"]

    plain = (
        "The library opened a new reading room on the third floor this week. "
        "The room has forty desks and a wall of windows facing the park. "
        "Visitors can book a desk for up to four hours at a time."
    )
    reply = ExtractiveSummarizer().summarize(SummaryRequest(title="t", source="s", text=plain))
    assert reply.data["faq"] == []


def test_an_article_without_a_sentence_cannot_be_summarised():
    with pytest.raises(SummarizerError) as exc_info:
        ExtractiveSummarizer().summarize(SummaryRequest(title="t", source="s", text="Menu\nHome\nLogin"))
    assert exc_info.value.retryable is False
