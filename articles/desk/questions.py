"""Editors decide about follow-ups on the desk: accept a proposed answer to an open "What to
watch" question, reject it (the question is open again) or dismiss the question.

Rules every function here keeps:

- Only editors decide (`permissions.can_approve`); anyone else gets PermissionDenied and
  nothing changes, whichever door (admin list, story page, shell) the decision comes through.
- The status changes only through OpenQuestion.transition_to, a compare-and-set on the status
  the caller read: of two editors deciding at once, or an editor and the proposer, one wins and
  the other gets DeskError with nothing written. A decision on a proposal names the article
  the editor was shown (`answer_article_id`); when another report was proposed since, it is
  refused too.
- Each records one AuditEntry (action: question_accept, question_reject, question_dismiss)
  with the editor, the reason, the proposed article and the two story ids, and sends
  open_question_changed, in one transaction.

What follows: an accepted question's story shows "Follow-up: …" linking to the answering story,
and subscribers of its topics get the follow-up in their next digest (newsletter/services.py).
A rejected article is never proposed for that question again (articles/stories/followups.py).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from articles.models import AuditEntry, IllegalTransition, OpenQuestion, StaleQuestion

from . import permissions
from .services import DeskError

Status = OpenQuestion.Status
# The decisions, by the audit action each records: the status it leads to, the statuses it is
# taken from, and what it does to the proposal.
DECISIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "question_accept": (Status.ACCEPTED, (Status.PROPOSED,)),
    "question_reject": (Status.OPEN, (Status.PROPOSED,)),
    "question_dismiss": (Status.DISMISSED, (Status.OPEN, Status.PROPOSED)),
}


def _decide(
    action: str, *, question: OpenQuestion, by: Any, reason: str, answer_article_id: int | None
) -> OpenQuestion:
    if not permissions.can_approve(by):
        raise PermissionDenied("Only editors accept, reject or dismiss follow-ups.")
    to_status, allowed_from = DECISIONS[action]
    from_status = question.status
    if from_status not in allowed_from:
        raise DeskError(
            f"This question is “{question.get_status_display()}” now: nothing changed; reload the page."
        )
    if answer_article_id is not None and question.answer_article_id != answer_article_id:
        raise DeskError(
            "Another report was proposed for this question meanwhile. Nothing changed; reload the page."
        )
    proposed_article, proposed_story = question.answer_article, question.answer_story_id
    changes: dict[str, Any] = {"decided_by": by}
    if action == "question_reject":
        # Open again, waiting for another report; the rejected one is in the audit log.
        changes.update(answer_article=None, answer_story=None, answer_score=0.0, decided_by=None)
    with transaction.atomic():
        try:
            question.transition_to(to_status, **changes)
        except (StaleQuestion, IllegalTransition) as exc:
            raise DeskError(
                "Someone else decided about this question, or a report was proposed for it, "
                "meanwhile. Nothing changed; reload the page."
            ) from exc
        AuditEntry.record(
            action,
            actor=by,
            article=proposed_article,
            target=question,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            story=question.story_id,
            to_story=proposed_story,
            question=question.text[:300],
        )
    return question


def question_accept(
    *, question: OpenQuestion, by: Any, reason: str = "", answer_article_id: int | None = None
) -> OpenQuestion:
    """The proposed report answers the question: proposed → accepted. The old story then shows
    the follow-up, and its topics' subscribers get it in their next digest."""
    return _decide(
        "question_accept", question=question, by=by, reason=reason, answer_article_id=answer_article_id
    )


def question_reject(
    *, question: OpenQuestion, by: Any, reason: str = "", answer_article_id: int | None = None
) -> OpenQuestion:
    """The proposed report does not answer the question: proposed → open, the proposal cleared
    (the audit entry keeps it, and that report is never proposed for it again)."""
    return _decide(
        "question_reject", question=question, by=by, reason=reason, answer_article_id=answer_article_id
    )


def question_dismiss(
    *, question: OpenQuestion, by: Any, reason: str = "", answer_article_id: int | None = None
) -> OpenQuestion:
    """Close the question without an answer (open or proposed → dismissed): nothing more will be
    proposed for it, and a newer summary version asking it again does not reopen it."""
    return _decide(
        "question_dismiss", question=question, by=by, reason=reason, answer_article_id=answer_article_id
    )
