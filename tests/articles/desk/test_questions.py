"""Follow-ups on the desk (articles/desk/questions.py and the admin): editors accept, reject or
dismiss a proposed answer to an open "What to watch" question, each audited and announced;
nobody else can; a decision on a stale page changes nothing. The story page shows the
questions and the story summary's checks (articles/desk/checks.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.desk import questions
from articles.desk.services import DeskError
from articles.models import Article, AuditEntry, OpenQuestion, Story, Summary, open_question_changed
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

Status = OpenQuestion.Status
CAST = ["editor", "moderator", "other_staff", "reader", "anonymous"]
FOLLOWUPS_URL = "/admin/articles/openquestion/"
HEARINGS = "The first public hearings on the light-rail route are planned for the spring."


def story_page(story: Story) -> str:
    return reverse("admin:articles_story_change", args=[story.pk])


def decide_url(question: OpenQuestion) -> str:
    return reverse("admin:articles_openquestion_decide", args=[question.pk])


def asked(text: str = HEARINGS, *, story: Story | None = None) -> OpenQuestion:
    story = story or factories.make_story(title="Council approves the light-rail line", articles=1)
    return OpenQuestion.objects.create(story=story, text=text)


def proposed(text: str = HEARINGS, *, story: Story | None = None) -> OpenQuestion:
    """An open question with a later report proposed as its answer."""
    question = asked(text, story=story)
    answer = factories.make_article(
        title="Hundreds pack first hearing on the light-rail route",
        source=factories.make_source(name="Metro Wire"),
    )
    question.transition_to(
        Status.PROPOSED, answer_article=answer, answer_story=answer.story, answer_score=0.61
    )
    return question


def fresh(question: OpenQuestion) -> OpenQuestion:
    return OpenQuestion.objects.select_related("answer_article").get(pk=question.pk)


@pytest.fixture
def announced():
    sent: list[tuple[int, str]] = []

    def receiver(sender, question, **kwargs):
        sent.append((question.pk, question.status))

    open_question_changed.connect(receiver)
    yield sent
    open_question_changed.disconnect(receiver)


# --- The services -----------------------------------------------------------------------------


def test_accepting_a_proposal_answers_the_question_and_records_who_why_and_what(editor, announced):
    question = proposed()
    announced.clear()  # the proposal itself was announced
    answer = question.answer_article

    questions.question_accept(question=question, by=editor, reason="The hearing took place.")

    question = fresh(question)
    assert question.status == Status.ACCEPTED and question.decided_by == editor
    assert question.answer_article == answer  # the follow-up the old story will show
    entry = AuditEntry.objects.get(action="question_accept")
    assert (entry.actor, entry.article, entry.reason) == (editor, answer, "The hearing took place.")
    assert (entry.from_status, entry.to_status) == (Status.PROPOSED, Status.ACCEPTED)
    assert entry.target_id == str(question.pk) and entry.target_type == "articles.openquestion"
    assert entry.details["story"] == question.story_id and entry.details["to_story"] == answer.story_id
    assert announced == [(question.pk, Status.ACCEPTED)]


def test_rejecting_a_proposal_opens_the_question_again_without_it(editor, announced):
    question = proposed()
    announced.clear()  # the proposal itself was announced
    answer = question.answer_article

    questions.question_reject(question=question, by=editor, reason="A hearing, not the vote.")

    question = fresh(question)
    assert question.status == Status.OPEN
    assert (question.answer_article, question.answer_story, question.answer_score) == (None, None, 0.0)
    entry = AuditEntry.objects.get(action="question_reject")
    assert entry.article == answer and entry.to_status == Status.OPEN  # the rejected report is kept here
    assert announced == [(question.pk, Status.OPEN)]


@pytest.mark.parametrize("make", [asked, proposed])
def test_dismissing_closes_an_open_or_proposed_question(make, editor):
    question = make()

    questions.question_dismiss(question=question, by=editor, reason="Not news.")

    assert fresh(question).status == Status.DISMISSED and fresh(question).decided_by == editor
    assert AuditEntry.objects.get(action="question_dismiss").reason == "Not news."


def test_an_open_question_has_no_proposal_to_accept_or_reject(editor):
    question = asked()
    for decide in (questions.question_accept, questions.question_reject):
        with pytest.raises(DeskError):
            decide(question=question, by=editor)
    assert fresh(question).status == Status.OPEN and not AuditEntry.objects.exists()


def test_a_decision_read_before_another_editor_decided_changes_nothing(editor):
    question = proposed()
    seen_by_second = OpenQuestion.objects.get(pk=question.pk)
    second_editor = factories.make_user(group="Editors", staff=True)
    questions.question_accept(question=question, by=editor)

    with pytest.raises(DeskError, match="meanwhile"):
        questions.question_reject(question=seen_by_second, by=second_editor)

    assert fresh(question).status == Status.ACCEPTED
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["question_accept"]


def test_a_decision_about_a_proposal_that_was_replaced_since_the_page_was_shown_is_refused(editor):
    question = proposed()
    shown = question.answer_article_id
    questions.question_reject(question=question, by=editor)
    other = factories.make_article(title="Hearing dates set for the light-rail route")
    question.transition_to(Status.PROPOSED, answer_article=other, answer_story=other.story, answer_score=0.5)

    with pytest.raises(DeskError, match="Another report"):
        questions.question_accept(question=fresh(question), by=editor, answer_article_id=shown)
    assert fresh(question).status == Status.PROPOSED


@pytest.mark.parametrize("who", ["moderator", "other_staff", "reader"])
@pytest.mark.parametrize("decision", ["question_accept", "question_reject", "question_dismiss"])
def test_only_editors_decide_about_follow_ups(who, decision, request):
    question = proposed()

    with pytest.raises(PermissionDenied):
        getattr(questions, decision)(question=question, by=request.getfixturevalue(who))

    assert fresh(question).status == Status.PROPOSED and not AuditEntry.objects.exists()


# --- The follow-ups list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("editor", 200), ("moderator", 200), ("other_staff", 403), ("reader", 302), ("anonymous", 302)],
)
def test_the_follow_ups_list_is_open_to_editors_and_moderators(who, status, login):
    assert login(who).get(FOLLOWUPS_URL).status_code == status


def test_the_follow_ups_list_shows_proposals_by_default_with_their_story_and_report(login):
    waiting = proposed()
    asked("Opponents may go to court to stop the line.", story=waiting.story)

    response = login("editor").get(FOLLOWUPS_URL)

    html = response.content.decode()
    assert [q.pk for q in response.context["cl"].result_list] == [waiting.pk]
    assert "Follow-ups" in html and HEARINGS in html and "0.61" in html
    assert reverse("admin:articles_article_change", args=[waiting.answer_article_id]) in html
    assert story_page(waiting.story) in html and "Metro Wire" in html
    assert len(login("editor").get(FOLLOWUPS_URL + "?status=all").context["cl"].result_list) == 2


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("accept_selected", Status.ACCEPTED),
        ("reject_selected", Status.OPEN),
        ("dismiss_selected", Status.DISMISSED),
    ],
)
def test_editors_decide_about_several_proposals_from_the_list(action, status, login):
    first, second = proposed(), proposed("Opponents may go to court to stop the light-rail line.")

    response = login("editor").post(
        FOLLOWUPS_URL, {"action": action, "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert response.status_code == 200
    assert {fresh(first).status, fresh(second).status} == {status}
    assert AuditEntry.objects.filter(actor__email="editor@example.com").count() == 2


def test_moderators_are_not_offered_the_decisions_on_the_list(login):
    question = proposed()
    response = login("moderator").post(
        FOLLOWUPS_URL, {"action": "accept_selected", "_selected_action": [question.pk]}
    )
    assert response.status_code in (200, 302)
    assert fresh(question).status == Status.PROPOSED


def test_the_follow_ups_list_needs_the_same_number_of_queries_for_3_or_30_proposals(login):
    client = login("editor")
    for _ in range(3):
        proposed()
    client.get(FOLLOWUPS_URL)
    with CaptureQueriesContext(connection) as few:
        client.get(FOLLOWUPS_URL)
    for _ in range(27):
        proposed()
    with CaptureQueriesContext(connection) as many:
        response = client.get(FOLLOWUPS_URL)
    assert len(response.context["cl"].result_list) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


# --- On the story page ----------------------------------------------------------------------------


def test_the_story_page_lists_its_questions_with_the_proposal_and_the_buttons(login):
    question = proposed()
    closed = asked("The mayor may call a referendum on the line.", story=question.story)
    questions.question_dismiss(question=closed, by=factories.make_user(group="Editors", staff=True))

    html = login("editor").get(story_page(question.story)).content.decode()

    assert HEARINGS in html and "Hundreds pack first hearing on the light-rail route" in html
    assert decide_url(question) in html and 'value="accept"' in html and 'value="reject"' in html
    assert "Closed without answer" in html and decide_url(closed) not in html
    # Proposals come first: what waits for an editor.
    assert html.index(HEARINGS) < html.index("The mayor may call a referendum")


def test_the_answering_story_s_page_says_which_question_it_answers(login):
    question = proposed()
    html = login("editor").get(story_page(question.answer_story)).content.decode()
    assert "This story answers" in html and HEARINGS in html


def test_moderators_read_the_questions_without_the_buttons(login):
    question = proposed()
    html = login("moderator").get(story_page(question.story)).content.decode()
    assert HEARINGS in html and decide_url(question) not in html


def test_an_editor_accepts_from_the_story_page_and_returns_to_it(login):
    question = proposed()

    response = login("editor").post(
        decide_url(question),
        {"decision": "accept", "answer": question.answer_article_id, "reason": "Answered."},
    )

    assert response.status_code == 302 and response["Location"] == story_page(question.story)
    assert fresh(question).status == Status.ACCEPTED
    assert AuditEntry.objects.get(action="question_accept").reason == "Answered."


def test_a_stale_decision_from_the_story_page_is_refused_with_a_message(login, editor):
    question = proposed()
    shown = question.answer_article_id
    questions.question_reject(question=question, by=editor)

    response = login("editor").post(
        decide_url(question), {"decision": "accept", "answer": shown}, follow=True
    )

    assert fresh(question).status == Status.OPEN
    assert "nothing changed" in response.content.decode().lower()


@pytest.mark.parametrize("who", ["moderator", "other_staff", "reader", "anonymous"])
def test_only_editors_post_decisions_from_the_story_page(who, login):
    question = proposed()
    response = login(who).post(decide_url(question), {"decision": "dismiss"})
    assert response.status_code in (302, 403)
    if who in ("reader", "anonymous"):
        assert response["Location"].startswith("/admin/login/")
    assert fresh(question).status == Status.PROPOSED


def test_deciding_needs_a_post(login):
    assert login("editor").get(decide_url(proposed())).status_code == 405


def test_the_story_page_needs_the_same_number_of_queries_for_3_or_30_questions(login):
    story = factories.make_story(title="Council approves the light-rail line", articles=1)
    client = login("editor")
    for n in range(3):
        proposed(f"Question {n} about the light-rail line and its route.", story=story)
    client.get(story_page(story))
    with CaptureQueriesContext(connection) as few:
        client.get(story_page(story))
    for n in range(3, 30):
        proposed(f"Question {n} about the light-rail line and its route.", story=story)
    with CaptureQueriesContext(connection) as many:
        response = client.get(story_page(story))
    assert len(response.context["questions"]) == 30
    assert len(many.captured_queries) == len(few.captured_queries)


# --- The story summary's checks ---------------------------------------------------------------------


def story_summary_fields() -> dict:
    fields = factories.summary_fields(grounding_score=0.75)
    points = [dict(point) for point in fields["key_points"]]
    points[0]["citations"] = [
        {"source": 1, "quote": "voted on Tuesday to build a new light-rail line", "verified": True},
        {"source": 2, "quote": "approved the line", "verified": True},
    ]
    points[1]["text"] = "Commutes could be cut in half for forty thousand riders <b>daily</b>."
    points[1]["citations"] = [{"source": 2, "quote": "cut commuting times in half", "verified": True}]
    points[2]["citations"] = [{"source": 1, "quote": "hearings in the autumn", "verified": False}]
    fields.update(
        key_points=points,
        sources=[
            {
                "n": 1,
                "article_id": 1,
                "source": "City Paper",
                "url": "https://citypaper.example/rail",
                "title": "Rail vote",
            },
            {
                "n": 2,
                "article_id": 2,
                "source": "Metro Wire",
                "url": "https://metrowire.example/rail",
                "title": "Line approved",
            },
        ],
        disagreements=[
            {
                "fact": "Cost of the line",
                "claims": [
                    {"source": 1, "says": "2.4 billion dollars"},
                    {"source": 2, "says": "2.6 billion dollars"},
                ],
            }
        ],
        unverified_facts=[{"field": "key_points[1]", "kind": "number", "text": "forty thousand"}],
        update_line="The council picked the route across the river.",
    )
    return fields


def test_the_story_page_shows_the_story_summary_s_checks(login):
    lead = factories.make_article(
        title="Council approves the light-rail line", status=Article.Status.IN_REVIEW
    )
    Summary.create_version(article=lead, **story_summary_fields())

    html = login("editor").get(story_page(lead.story)).content.decode()

    assert "Story summary checks" in html and "grounding 0.75" in html and "checked against 2 sources" in html
    assert "The council picked the route across the river." in html
    # The unverified fact, listed and marked where it stands in the point; the text escaped.
    assert '<mark class="desk-fact">forty thousand</mark> riders &lt;b&gt;daily&lt;/b&gt;' in html
    assert "Sources differ" in html
    assert "<q>2.4 billion dollars</q> (City Paper); <q>2.6 billion dollars</q> (Metro Wire)" in html
    # Citations by source name, linked to the original; a quote not found is flagged.
    assert '<a href="https://citypaper.example/rail" rel="noreferrer noopener">City Paper</a> [1]' in html
    assert "quote not found" in html
    assert html.count("single source") == 1  # Why it matters: Metro Wire alone


def test_the_review_screen_shows_the_same_checks(login):
    lead = factories.make_article(
        title="Council approves the light-rail line", status=Article.Status.IN_REVIEW
    )
    Summary.create_version(article=lead, **story_summary_fields())

    html = login("editor").get(reverse("admin:articles_article_change", args=[lead.pk])).content.decode()

    assert "Story summary checks" in html and "Sources differ" in html
    assert '<mark class="desk-fact">forty thousand</mark>' in html


def test_a_one_article_summary_shows_no_story_checks(login):
    article = factories.make_review_article(published_at=timezone.now() - timedelta(hours=1))
    html = login("editor").get(story_page(article.story)).content.decode()
    assert "Story summary checks" not in html and "written from its own article" in html
