"""Forms for the review desk: one review form per article, the bulk-action form, and the
story page's decision form with the merge action's confirmation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.utils import timezone

from articles.models import KEY_POINT_HEADINGS, Article, Story, Summary, Topic

from .versions import SummaryEdit

ACTIONS = {
    "approve": "Approve and publish",
    "save": "Save draft",
    "reject": "Reject",
    "regenerate": "Regenerate",
    "schedule": "Schedule",
    "restore": "Restore",
}
# Actions that submit the summary the editor sees; the others ignore its fields.
EDITING_ACTIONS = frozenset({"approve", "save", "schedule"})
FAQ_ROWS_EXTRA = 2


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class FaqRowForm(forms.Form):
    question = forms.CharField(required=False, max_length=500)
    answer = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    evidence = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Quotes from the source, one per line.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        question, answer = (data.get("question") or "").strip(), (data.get("answer") or "").strip()
        if question and not answer:
            self.add_error("answer", "A question needs an answer.")
        if answer and not question:
            self.add_error("question", "An answer needs a question.")
        return data


FaqFormSet = forms.formset_factory(FaqRowForm, extra=FAQ_ROWS_EXTRA, max_num=20)


class ReviewForm(forms.Form):
    """The review screen's form. Which fields matter depends on the button pressed (`_action`)."""

    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    # The version the editor's screen showed: a save based on anything older is refused.
    based_on_version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    key_takeaway = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        required=False, max_length=1000, label="Reason for rejection", widget=forms.TextInput
    )
    note = forms.CharField(required=False, max_length=1000, label="Note to the model")
    schedule_at = forms.DateTimeField(
        required=False,
        label="Publish at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    restore_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i, heading in enumerate(KEY_POINT_HEADINGS):
            self.fields[f"kp_text_{i}"] = forms.CharField(
                required=False, label=heading, widget=forms.Textarea(attrs={"rows": 2})
            )
            self.fields[f"kp_evidence_{i}"] = forms.CharField(
                required=False,
                label=f"{heading}: evidence",
                help_text="Quotes from the source, one per line.",
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.faq = FaqFormSet(
            self.data if self.is_bound else None, initial=kwargs.get("initial", {}).get("faq"), prefix="faq"
        )

    @classmethod
    def initial_for(cls, summary: Summary | None, topics: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {"topics": list(topics)}
        if summary is None:
            return initial
        initial.update(based_on_version=summary.version, key_takeaway=summary.key_takeaway)
        for i, point in enumerate((summary.key_points or [])[: len(KEY_POINT_HEADINGS)]):
            initial[f"kp_text_{i}"] = point.get("text", "")
            initial[f"kp_evidence_{i}"] = "\n".join(point.get("evidence") or [])
        initial["faq"] = [
            {
                "question": row.get("question", ""),
                "answer": row.get("answer", ""),
                "evidence": "\n".join(row.get("evidence") or []),
            }
            for row in summary.faq or []
        ]
        return initial

    def clean_based_on_version(self) -> int:
        # No version on the form means "I saw no summary": any existing version makes it stale.
        return self.cleaned_data.get("based_on_version") or 0

    def rebase(self, version: int) -> None:
        """After a conflict: keep the editor's text, but let a deliberate resubmit through."""
        self.data = self.data.copy()
        self.data["based_on_version"] = str(version)

    def key_point_rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (heading, self[f"kp_text_{i}"], self[f"kp_evidence_{i}"])
            for i, heading in enumerate(KEY_POINT_HEADINGS)
        ]

    def is_valid(self) -> bool:
        # The FAQ rows only matter when the summary itself is being submitted.
        valid = super().is_valid()
        if self.cleaned_data.get("action") in EDITING_ACTIONS:
            valid = self.faq.is_valid() and valid
        return valid

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action in EDITING_ACTIONS:
            if not (data.get("key_takeaway") or "").strip():
                self.add_error("key_takeaway", "The key takeaway cannot be empty.")
            for i, heading in enumerate(KEY_POINT_HEADINGS):
                if not (data.get(f"kp_text_{i}") or "").strip():
                    self.add_error(f"kp_text_{i}", f"“{heading}” needs text: a summary has three key points.")
        if action == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "A rejection needs a reason.")
        if action == "schedule":
            when = data.get("schedule_at")
            if when is None:
                self.add_error("schedule_at", "Choose when to publish.")
            elif when <= timezone.now():
                self.add_error("schedule_at", "The publication time must be in the future.")
        if action == "restore" and not data.get("restore_version"):
            self.add_error("restore_version", "Choose a version to restore.")
        return data

    def edit(self) -> SummaryEdit:
        data = self.cleaned_data
        points = [
            {
                "heading": heading,
                "text": data.get(f"kp_text_{i}", "").strip(),
                "evidence": _lines(data.get(f"kp_evidence_{i}", "")),
            }
            for i, heading in enumerate(KEY_POINT_HEADINGS)
        ]
        faq = [
            {
                "question": row["question"].strip(),
                "answer": row["answer"].strip(),
                "evidence": _lines(row.get("evidence", "")),
            }
            for row in (f.cleaned_data for f in self.faq.forms if f.cleaned_data)
            if row.get("question", "").strip()
        ]
        return SummaryEdit(key_takeaway=data["key_takeaway"].strip(), key_points=points, faq=faq)


class DeskActionForm(ActionForm):
    """The changelist's action bar, with the one reason/note a bulk action may need."""

    reason = forms.CharField(required=False, max_length=1000, label="Reason (for reject)")
    note = forms.CharField(required=False, max_length=1000, label="Note to the model (for regenerate)")


STORY_DECISIONS = {
    "lead": "Make lead",
    "split": "Split out into a story of its own",
    "move": "Move to story",
    "merge": "Merge this story into story",
}
# Decisions about one article of the story, and decisions that name another story.
ARTICLE_DECISIONS = frozenset({"lead", "split", "move"})
TARGET_DECISIONS = frozenset({"move", "merge"})


class StoryDecisionForm(forms.Form):
    """The story page's one form: choose an article (for lead, split and move) and another
    story (for move and merge), give a reason, press the decision's button. Whether the
    decision is allowed is the story service's to say (articles/desk/stories.py)."""

    action = forms.ChoiceField(choices=list(STORY_DECISIONS.items()))
    article = forms.ModelChoiceField(queryset=Article.objects.none(), required=False)
    target = forms.ModelChoiceField(
        queryset=Story.objects.all(),
        required=False,
        label="Other story",
        help_text="Its number; the magnifier searches stories by title.",
    )
    reason = forms.CharField(required=False, max_length=1000, label="Reason (kept in the audit log)")

    def __init__(self, *args: Any, story: Story, admin_site: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["article"].queryset = story.articles.all()
        # The admin's own picker: a number field with a lookup popup onto the story list.
        self.fields["target"].widget = ForeignKeyRawIdWidget(
            Article._meta.get_field("story").remote_field, admin_site
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action in ARTICLE_DECISIONS and not data.get("article") and "article" not in self.errors:
            self.add_error("article", "Choose an article in the list.")
        if action in TARGET_DECISIONS and not data.get("target") and "target" not in self.errors:
            self.add_error("target", "Give the number of the other story.")
        return data


class StoryMergeForm(forms.Form):
    """The merge action's confirmation: which of the selected stories the others join."""

    into = forms.ModelChoiceField(
        queryset=Story.objects.none(), widget=forms.RadioSelect, label="Keep", empty_label=None
    )
    reason = forms.CharField(required=False, max_length=1000, label="Reason (kept in the audit log)")

    def __init__(self, *args: Any, stories: list[Story], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = Story.objects.filter(pk__in=[s.pk for s in stories])
        self.fields["into"].label_from_instance = lambda s: f"#{s.pk} {s.title} ({s.article_count} articles)"
        if not self.is_bound and stories:
            self.initial["into"] = stories[0].pk


class QuestionDecisionForm(forms.Form):
    """A decision about one open question, posted from the story page: the button pressed, the
    proposed article the editor was shown (a decision about another proposal is refused) and
    an optional reason for the audit log."""

    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject"), ("dismiss", "Dismiss")])
    answer = forms.IntegerField(required=False, min_value=1)
    reason = forms.CharField(required=False, max_length=1000)
