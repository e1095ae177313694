"""Updates, not repeats: whether a story's summary should be rewritten for the reports that
joined the story since it was written (docs/summaries.md, "Story updates").

Only the story's lead is summarised. Another report joining the story is weighed here after
STORY_UPDATE_DELAY_SECONDS (the task waits, so a burst costs one decision): the summary is
rewritten only if the new reports bring something it lacks. Code decides first, offline:

- a number, percentage, amount or date that neither the summary nor its sources contain, or
  a direct quotation of several words they do not contain: new, rewrite;
- nothing new at all, not even a name: nothing to do, no model call;
- only new names (a new official, a new place): code cannot tell whether that matters, so the
  model decides while rewriting (its `update.is_new`), and a "nothing new" answer stores no
  version (workflow._store).

A summary that cites a report no longer in the story (an editor moved it to another story or
split it out) is rewritten from the reports the story holds now, whatever they bring: readers
must not see a story backed by a report that is not part of it. (The model's `update.is_new`
still decides whether the rewrite is stored, workflow._store.)

The rewrite is the desk's Regenerate: a published story stays live while the new version
waits for an editor, or auto-publishes under the usual rule; readers then see its update
line and the story's timeline. This module decides; the task does the chaining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.conf import settings

from articles.models import Article, Story

from . import faithfulness
from .sources import story_members, summary_as_text

NEW_KINDS = ("number", "percent", "money", "date")


@dataclass
class RefreshOutcome:
    story_id: int
    # regenerate, ask-model, nothing-new, up-to-date, waiting, no-summary
    result: str
    article_id: int | None = None
    new_articles: list[int] = field(default_factory=list)
    new_facts: list[str] = field(default_factory=list)
    # Reports the summary cites that are no longer in the story: it is rewritten without them.
    left_articles: list[int] = field(default_factory=list)

    @property
    def should_regenerate(self) -> bool:
        return self.result in ("regenerate", "ask-model")

    def as_dict(self) -> dict:
        return asdict(self)


def story_summary_refresh(*, story_id: int) -> RefreshOutcome:
    """Decide whether the story's summary needs rewriting for reports it does not cite yet."""
    story = Story.objects.filter(pk=story_id).select_related("lead__source").first()
    if not settings.STORY_SUMMARIES or story is None or story.lead is None:
        return RefreshOutcome(story_id, "no-summary")
    lead = story.lead
    if lead.status in (Article.Status.NEW, Article.Status.EXTRACTED, Article.Status.SUMMARIZING) or (
        lead.summarizing_since is not None
    ):
        # The lead's own run reads the story's sources when it starts; its task weighs the
        # story again when it ends, for anything that arrived meanwhile.
        return RefreshOutcome(story_id, "waiting", lead.pk)
    if lead.status not in (Article.Status.IN_REVIEW, Article.Status.PUBLISHED):
        return RefreshOutcome(story_id, "no-summary", lead.pk)
    summary = lead.latest_summary
    if summary is None:
        return RefreshOutcome(story_id, "no-summary", lead.pk)

    cited = {row.get("article_id") for row in summary.sources} or {lead.pk}
    members = story_members(lead)
    new = [m for m in members if m.pk not in cited]
    cited_ids = {pk for pk in cited if pk is not None}
    kept = set(Article.objects.filter(pk__in=cited_ids, story_id=story.pk).values_list("pk", flat=True))
    left = sorted(cited_ids - kept)
    if left:
        return RefreshOutcome(story_id, "regenerate", lead.pk, [m.pk for m in new], left_articles=left)
    if not new:
        return RefreshOutcome(story_id, "up-to-date", lead.pk)
    known_texts = [summary_as_text(summary)] + [m.extracted_text for m in members if m.pk in cited]
    known = [faithfulness.FactIndex(text) for text in known_texts]
    facts, names = [], []
    for member in new:
        facts += [f.text for f in faithfulness.new_facts(member.extracted_text, known, kinds=NEW_KINDS)]
        facts += faithfulness.new_quotations(member.extracted_text, known_texts)
        names += [f.text for f in faithfulness.new_facts(member.extracted_text, known, kinds=("name",))]
    ids = [m.pk for m in new]
    if facts:
        return RefreshOutcome(story_id, "regenerate", lead.pk, ids, list(dict.fromkeys(facts))[:20])
    if names:
        return RefreshOutcome(story_id, "ask-model", lead.pk, ids, list(dict.fromkeys(names))[:20])
    return RefreshOutcome(story_id, "nothing-new", lead.pk, ids)
