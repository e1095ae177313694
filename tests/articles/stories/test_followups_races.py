"""Follow-ups under real concurrency on PostgreSQL: the proposer and an editor dismissing the
same question at once leave one of the two changes, never both; two publications in one story
at once create each question once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.desk import questions
from articles.desk.services import DeskError
from articles.models import Article, AuditEntry, OpenQuestion, Summary
from articles.stories import followups
from tests import factories
from tests.races import needs_postgres, race

pytestmark = [pytest.mark.services, needs_postgres, pytest.mark.django_db(transaction=True)]

Status = OpenQuestion.Status


make_editor = factories.make_editor_by_permission


ROUNDS = 5
HEARINGS = "The first public hearings on the light-rail route are planned for the spring."
REPORT = (
    "Hundreds pack first public hearing on the light-rail route",
    "More than three hundred residents packed the town hall on Monday for the first public hearing on "
    "the route of the light-rail line across the river.",
)


def test_a_proposal_and_an_editor_s_dismissal_at_once_leave_exactly_one_of_them():
    editor = make_editor()
    outcomes = set()
    for round_no in range(ROUNDS):
        story = factories.make_story(title=f"Light rail {round_no}", articles=1)
        question = OpenQuestion.objects.create(
            story=story, text=HEARINGS, created_at=timezone.now() - timedelta(hours=1)
        )
        followups._index([question])
        report = factories.make_article(
            title=REPORT[0], extracted_text=REPORT[1], published_at=timezone.now()
        )
        seen = OpenQuestion.objects.get(pk=question.pk)  # the editor's page shows it open

        proposals, dismissed = race(
            lambda pk=report.pk: followups.answers_propose(article=Article.objects.get(pk=pk)),
            lambda seen=seen: questions.question_dismiss(question=seen, by=editor, reason="Not news."),
        )

        final = OpenQuestion.objects.get(pk=question.pk)
        actions = list(AuditEntry.objects.filter(target_id=str(question.pk)).values_list("action", flat=True))
        if isinstance(dismissed, DeskError):
            assert [p.question_id for p in proposals] == [question.pk], f"round {round_no}"
            assert final.status == Status.PROPOSED and final.answer_article_id == report.pk
            assert actions == ["question_propose"]
        else:
            assert proposals == [], f"round {round_no}: {proposals}"
            assert final.status == Status.DISMISSED and final.answer_article_id is None
            assert actions == ["question_dismiss"]
        outcomes.add(final.status)
        OpenQuestion.objects.filter(pk=question.pk).delete()
    assert outcomes <= {Status.PROPOSED, Status.DISMISSED}


def test_two_publications_in_one_story_at_once_create_each_question_once():
    for round_no in range(ROUNDS):
        story = factories.make_story(title=f"Light rail {round_no}")
        for n in range(2):
            # On the site already (written directly: the publication's own sync is what races).
            article = factories.make_article(
                story=story,
                status=Article.Status.PUBLISHED,
                published_at=timezone.now() - timedelta(hours=3 - n),
                published_on_site_at=timezone.now() - timedelta(hours=1),
            )
            fields = factories.summary_fields(approved_at=timezone.now())
            fields["key_points"][2] = {
                **fields["key_points"][2],
                "text": f"{HEARINGS} Opponents may go to court.",
            }
            Summary.create_version(article=article, **fields)

        sync = lambda pk=story.pk: followups.story_questions_sync(story_id=pk)  # noqa: E731
        results = race(sync, sync)

        assert all(isinstance(r, followups.QuestionSync) for r in results), results
        assert sorted(len(r.created) for r in results) == [0, 2], f"round {round_no}: {results}"
        assert OpenQuestion.objects.filter(story=story).count() == 2
