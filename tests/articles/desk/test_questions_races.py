"""Editors deciding about one follow-up at once, on PostgreSQL: one decision wins, the other
is refused with nothing written (OpenQuestion.transition_to's compare-and-set)."""

from __future__ import annotations

import pytest

from articles.desk import questions
from articles.desk.services import DeskError
from articles.models import AuditEntry, OpenQuestion
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

Status = OpenQuestion.Status


make_editor = factories.make_editor_by_permission


ROUNDS = 5


def proposed() -> OpenQuestion:
    story = factories.make_story(title="Council approves the light-rail line", articles=1)
    question = OpenQuestion.objects.create(
        story=story, text="Public hearings on the route come in the spring."
    )
    answer = factories.make_article(title="Hundreds pack first hearing on the light-rail route")
    question.transition_to(
        Status.PROPOSED, answer_article=answer, answer_story=answer.story, answer_score=0.6
    )
    return question


def decide(decision, question: OpenQuestion, editor):
    # Each editor's page was loaded before either pressed the button: both read "proposed".
    seen = OpenQuestion.objects.get(pk=question.pk)
    return lambda: decision(question=seen, by=editor, answer_article_id=seen.answer_article_id)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (questions.question_accept, questions.question_reject),
        (questions.question_accept, questions.question_accept),
        (questions.question_reject, questions.question_dismiss),
    ],
)
def test_two_editors_deciding_about_one_proposal_at_once_take_one_decision(first, second):
    editors = [make_editor() for _ in range(2)]
    for round_no in range(ROUNDS):  # several rounds: one lucky interleaving proves nothing
        question = proposed()

        results = race(decide(first, question, editors[0]), decide(second, question, editors[1]))

        won = [r for r in results if isinstance(r, OpenQuestion)]
        refused = [r for r in results if isinstance(r, DeskError)]
        assert len(won) == 1 and len(refused) == 1, f"round {round_no}: {results}"
        final = OpenQuestion.objects.get(pk=question.pk)
        assert final.status == won[0].status
        entries = AuditEntry.objects.filter(target_id=str(question.pk), actor__isnull=False)
        assert entries.count() == 1 and entries.get().to_status == final.status
