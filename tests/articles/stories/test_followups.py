"""articles/stories/followups.py: a published story summary's "What to watch" point becomes open
questions on its story and follows newer versions; a later report that answers one is proposed
to the desk, found through the question index at a cost that does not grow with the questions;
the threshold's precision and recall on the labelled pairs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.desk import questions as desk
from articles.models import (
    Article,
    AuditEntry,
    OpenQuestion,
    QuestionTerm,
    Story,
    Summary,
    open_question_changed,
)
from articles.stories import followups, tasks
from articles.stories.similarity import term_counts
from articles.stories.store import count_terms
from tests import factories
from tests.articles.stories.events import RAIL, SITE_BANNER
from tests.articles.stories.followup_pairs import PAIRS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "fast_passwords")]

Status = OpenQuestion.Status
WATCH = (
    "The first public hearings on the light-rail route are planned for the spring. "
    "Opponents may ask the courts to stop the light-rail line before building starts."
)
HEARINGS, COURTS = (
    "The first public hearings on the light-rail route are planned for the spring.",
    "Opponents may ask the courts to stop the light-rail line before building starts.",
)


def fields_watching(watch: str, **overrides) -> dict:
    fields = factories.summary_fields(**overrides)
    fields["key_points"] = [dict(point) for point in fields["key_points"]]
    fields["key_points"][2]["text"] = watch
    return fields


@pytest.fixture
def publish_version(django_capture_on_commit_callbacks):
    """Add a version with this What to watch to the article and publish it, committing as the
    desk does (the questions follow once the publication commits)."""

    def publish_version(article: Article, watch: str) -> Summary:
        summary = Summary.create_version(article=article, **fields_watching(watch))
        with django_capture_on_commit_callbacks(execute=True):
            Article.objects.get(pk=article.pk).publish(summary)
        return summary

    return publish_version


@pytest.fixture
def rail_story(publish_version) -> Story:
    """The vote on the light-rail line, published an hour ago with WATCH as What to watch."""
    article = factories.make_article(
        title=RAIL[0], extracted_text=RAIL[1], status=Article.Status.IN_REVIEW, published_at=hours_ago(3)
    )
    publish_version(article, WATCH)
    return Story.objects.get(pk=article.story_id)


def hours_ago(n: float):
    return timezone.now() - timedelta(hours=n)


def texts(story: Story, status: str = Status.OPEN) -> list[str]:
    return list(story.open_questions.filter(status=status).order_by("pk").values_list("text", flat=True))


def later_report(title: str, lead: str, *, story: Story | None = None, **fields) -> Article:
    return factories.make_article(
        title=title,
        extracted_text=lead,
        published_at=fields.pop("published_at", timezone.now()),
        story=story,
        **fields,
    )


HEARING_REPORT = (
    "Hundreds pack first public hearing on the light-rail route",
    "More than three hundred residents packed the town hall on Monday for the first public hearing on "
    "the route of the light-rail line across the river.",
)


# --- Sentences -------------------------------------------------------------------------------


def test_a_what_to_watch_point_is_split_into_its_sentences():
    assert followups.watch_sentences(WATCH) == [HEARINGS, COURTS]


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence():
    text = (
        "Mr. Ortiz and J. K. Rowe of the U.S. delegation meet on Nov. 30 to discuss the 2.5 percent "
        "tariff. Markets will watch the yen closely."
    )
    assert followups.watch_sentences(text) == [
        "Mr. Ortiz and J. K. Rowe of the U.S. delegation meet on Nov. 30 to discuss the 2.5 percent tariff.",
        "Markets will watch the yen closely.",
    ]


def test_a_fragment_too_short_to_match_stays_with_its_neighbour_and_long_points_are_capped():
    assert followups.watch_sentences("The vote is on Friday. Or later. Both sides are lobbying hard.") == [
        "The vote is on Friday. Or later.",
        "Both sides are lobbying hard.",
    ]
    many = " ".join(f"Item number {n} deserves close attention from investors." for n in range(10))
    assert len(followups.watch_sentences(many)) == followups.MAX_QUESTIONS_PER_POINT
    assert followups.watch_sentences("  ") == []


# --- Questions follow the published summary --------------------------------------------------


def test_publishing_a_story_summary_makes_one_open_question_per_what_to_watch_sentence(rail_story):
    questions = list(rail_story.open_questions.order_by("pk"))
    assert [q.text for q in questions] == [HEARINGS, COURTS]
    assert {q.status for q in questions} == {Status.OPEN}
    assert questions[0].summary == rail_story.lead.current_summary
    # Indexed by their terms, for proposals.
    assert set(QuestionTerm.objects.filter(question=questions[0]).values_list("term", flat=True)) == (
        followups.question_terms(HEARINGS)
    )


def test_publishing_the_same_version_again_changes_nothing(rail_story, django_capture_on_commit_callbacks):
    before = list(OpenQuestion.objects.values_list("pk", "text", "status"))
    lead = Article.objects.get(pk=rail_story.lead_id)
    with django_capture_on_commit_callbacks(execute=True):
        lead.publish(lead.current_summary)  # a correction that re-approves the same version

    assert list(OpenQuestion.objects.values_list("pk", "text", "status")) == before
    assert tasks.sync_story_questions(rail_story.pk)["created"] == []


def test_a_newer_version_closes_the_questions_it_drops_keeps_those_it_repeats_and_adds_new_ones(
    rail_story, publish_version
):
    hearings = rail_story.open_questions.get(text=HEARINGS)
    courts = rail_story.open_questions.get(text=COURTS)
    changed: list[int] = []
    open_question_changed.connect(receiver := lambda sender, question, **kw: changed.append(question.pk))
    try:
        publish_version(
            Article.objects.get(pk=rail_story.lead_id),
            f"{HEARINGS} The council will choose a builder for the line before the end of next year.",
        )
    finally:
        open_question_changed.disconnect(receiver)

    assert texts(rail_story) == [
        HEARINGS,
        "The council will choose a builder for the line before the end of next year.",
    ]
    assert OpenQuestion.objects.get(pk=hearings.pk).status == Status.OPEN  # the same row, kept
    closed = OpenQuestion.objects.get(pk=courts.pk)
    assert closed.status == Status.DISMISSED and closed.decided_by is None
    assert not QuestionTerm.objects.filter(question=closed).exists()
    entry = AuditEntry.objects.get(action="question_replace")
    assert entry.automatic and entry.target_id == str(courts.pk) and entry.details["version"] == 2
    assert changed == [courts.pk]


def test_a_question_the_system_closed_is_reopened_when_a_later_version_asks_it_again(
    rail_story, publish_version
):
    lead = Article.objects.get(pk=rail_story.lead_id)
    publish_version(lead, HEARINGS)
    courts = rail_story.open_questions.get(text=COURTS)
    assert courts.status == Status.DISMISSED

    publish_version(lead, WATCH)

    courts.refresh_from_db()
    assert courts.status == Status.OPEN and courts.summary.version == 3
    assert QuestionTerm.objects.filter(question=courts).exists()
    assert rail_story.open_questions.count() == 2


def test_questions_waiting_for_or_decided_by_an_editor_are_left_alone(rail_story, publish_version, editor):
    hearings = rail_story.open_questions.get(text=HEARINGS)
    courts = rail_story.open_questions.get(text=COURTS)
    hearings.transition_to(Status.PROPOSED, answer_article=later_report(*HEARING_REPORT))
    desk.question_dismiss(question=courts, by=editor, reason="Not news.")

    publish_version(Article.objects.get(pk=rail_story.lead_id), WATCH)  # the same sentences again
    publish_version(
        Article.objects.get(pk=rail_story.lead_id), "The mayor may call a referendum on the line."
    )

    assert OpenQuestion.objects.get(pk=hearings.pk).status == Status.PROPOSED
    assert OpenQuestion.objects.get(pk=courts.pk).status == Status.DISMISSED  # the editor's word stands
    assert texts(rail_story) == ["The mayor may call a referendum on the line."]


def test_the_questions_come_from_the_summary_that_stands_for_the_story(rail_story, publish_version):
    """Another article's publication in the story does not put its own What to watch on the
    story while the lead is on the site."""
    other = factories.make_article(
        title="Light rail: the second report", story=rail_story, status=Article.Status.IN_REVIEW
    )
    publish_version(other, "Shopkeepers on Harbour Street want the tracks moved away from their doors.")

    assert texts(rail_story) == [HEARINGS, COURTS]


def test_an_article_withdrawn_or_never_published_makes_no_questions(django_capture_on_commit_callbacks):
    article = factories.make_review_article(summary=fields_watching(WATCH))
    with django_capture_on_commit_callbacks(execute=True):
        article.transition_to(Article.Status.REJECTED, reason="Wrong story.")
    assert not OpenQuestion.objects.exists()
    assert tasks.sync_story_questions(article.story_id)["summary_id"] is None


# --- Proposals --------------------------------------------------------------------------------


def test_a_later_report_that_answers_a_question_is_proposed_to_the_desk(rail_story):
    report = later_report(*HEARING_REPORT)  # in a story of its own

    (proposal,) = followups.answers_propose(article=report)

    question = OpenQuestion.objects.get(pk=proposal.question_id)
    assert question.text == HEARINGS and question.status == Status.PROPOSED
    assert (question.answer_article, question.answer_story_id) == (report, report.story_id)
    assert question.answer_score == proposal.score >= 0.4
    entry = AuditEntry.objects.get(action="question_propose")
    assert entry.automatic and entry.article == report and entry.details["to_story"] == report.story_id
    # The other question is not answered by a report about the hearing.
    assert texts(rail_story) == [COURTS]


def test_a_report_behind_its_site_s_banner_is_scored_by_the_lead_it_was_grouped_by(rail_story):
    # Grouping stored the lead without the banner the site prints on every page; the page's
    # own first 400 characters are all banner, which no question is about.
    lead = HEARING_REPORT[1]
    report = later_report("Residents pack the town hall", SITE_BANNER + lead, grouping_lead=lead)

    (proposal,) = followups.answers_propose(article=report)

    assert OpenQuestion.objects.get(pk=proposal.question_id).text == HEARINGS


def test_a_report_in_the_question_s_own_story_may_answer_it(rail_story):
    report = later_report(*HEARING_REPORT, story=rail_story)

    (proposal,) = followups.answers_propose(article=report)

    assert proposal.story_id == rail_story.pk
    assert OpenQuestion.objects.get(pk=proposal.question_id).answer_story_id == rail_story.pk


def test_a_report_published_before_the_question_was_asked_is_not_proposed(rail_story):
    question = rail_story.open_questions.get(text=HEARINGS)
    report = later_report(*HEARING_REPORT, published_at=question.created_at - timedelta(minutes=1))

    assert followups.answers_propose(article=report) == []


def test_questions_of_stories_not_seen_for_the_followup_days_are_not_proposed(rail_story, settings):
    settings.STORY_FOLLOWUP_DAYS = 14
    Story.objects.filter(pk=rail_story.pk).update(last_seen_at=timezone.now() - timedelta(days=15))

    assert followups.answers_propose(article=later_report(*HEARING_REPORT)) == []
    # The daily prune then drops their index rows.
    assert followups.question_index_prune() > 0
    assert not QuestionTerm.objects.exists()


def test_a_report_that_only_shares_the_subject_is_not_proposed(rail_story):
    report = later_report(
        "Light-rail line will cost more than planned, audit finds",
        "An audit of the light-rail line across the river found the project will cost 300 million "
        "dollars more than the council was told.",
    )
    assert followups.answers_propose(article=report) == []


def test_copies_propose_nothing_and_proposing_twice_proposes_once(rail_story):
    report = later_report(*HEARING_REPORT)
    copy = later_report(*HEARING_REPORT, duplicate_of=report, url="https://mirror.example.com/hearing")

    assert followups.answers_propose(article=copy) == []
    assert len(followups.answers_propose(article=report)) == 1
    assert followups.answers_propose(article=report) == []
    assert AuditEntry.objects.filter(action="question_propose").count() == 1


def test_a_report_an_editor_rejected_is_never_proposed_for_that_question_again(rail_story, editor):
    report = later_report(*HEARING_REPORT)
    (proposal,) = followups.answers_propose(article=report)
    question = OpenQuestion.objects.get(pk=proposal.question_id)
    desk.question_reject(question=question, by=editor, reason="The hearing is not the vote.")

    assert followups.answers_propose(article=report) == []
    assert OpenQuestion.objects.get(pk=question.pk).status == Status.OPEN
    # Another report may still answer it.
    other = later_report(
        "Residents crowd first public hearing on light-rail route",
        "Residents crowded the first public hearing on the light-rail route on Tuesday.",
    )
    assert [p.question_id for p in followups.answers_propose(article=other)] == [question.pk]


def test_a_question_dismissed_while_the_proposer_scored_it_stays_dismissed(rail_story, editor, monkeypatch):
    """The proposer reads the question open, an editor dismisses it, the proposer's
    compare-and-set finds it changed and writes nothing."""
    question = rail_story.open_questions.get(text=HEARINGS)
    real_propose = followups._propose

    def dismissed_first(q, **kwargs):
        desk.question_dismiss(question=OpenQuestion.objects.get(pk=q.pk), by=editor)
        return real_propose(q, **kwargs)

    monkeypatch.setattr(followups, "_propose", dismissed_first)

    assert followups.answers_propose(article=later_report(*HEARING_REPORT)) == []
    question.refresh_from_db()
    assert question.status == Status.DISMISSED and question.answer_article is None


def test_grouping_a_new_article_proposes_it_in_a_task_of_its_own(
    rail_story, django_capture_on_commit_callbacks
):
    article = factories.make_ungrouped_article(
        title=HEARING_REPORT[0], extracted_text=HEARING_REPORT[1], published_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.group_article(article.pk)

    question = rail_story.open_questions.get(text=HEARINGS)
    assert question.status == Status.PROPOSED and question.answer_article_id == article.pk


def test_finding_candidates_costs_the_same_queries_for_ten_or_a_thousand_open_questions(rail_story):
    def ask(n: int) -> None:
        story = factories.make_story(title=f"Filler {n}")
        questions = OpenQuestion.objects.bulk_create(
            OpenQuestion(story=story, text=f"Officials will review the {word} plan for district {n + i}.")
            for i, word in enumerate(("housing", "parking", "harbour", "school", "budget"))
        )
        followups._index(questions)

    for n in range(2):
        ask(n)
    report = later_report(*HEARING_REPORT)
    with CaptureQueriesContext(connection) as few:
        followups.answers_propose(article=report)
    OpenQuestion.objects.filter(status=Status.PROPOSED).update(status=Status.OPEN)  # asked again
    for n in range(2, 200):
        ask(n)
    report = later_report(*HEARING_REPORT, url="https://b.example.com/1")
    with CaptureQueriesContext(connection) as many:
        proposals = followups.answers_propose(article=report)

    assert [OpenQuestion.objects.get(pk=p.question_id).text for p in proposals] == [HEARINGS]
    assert len(many.captured_queries) == len(few.captured_queries)


# --- The threshold on the labelled pairs --------------------------------------------------------


def labelled_scores() -> list[tuple[float, int, bool]]:
    """(score, shared terms, answers) for every pair, weighted by the document frequencies of the
    set's own reports (what the grouping would have counted had it grouped them)."""
    reports = {(pair.title, pair.lead) for pair in PAIRS}
    frequencies: dict[str, int] = {}
    for title, lead in reports:
        for term in term_counts(title, lead):
            frequencies[term] = frequencies.get(term, 0) + 1
    return [
        (
            *followups.answer_score(
                pair.question, pair.title, pair.lead, documents=len(reports), frequencies=frequencies
            ),
            pair.answers,
        )
        for pair in PAIRS
    ]


def precision_recall(threshold: float) -> tuple[float, float]:
    proposed = [
        answers
        for score, shared, answers in labelled_scores()
        if score >= threshold and shared >= followups.MIN_SHARED_TERMS
    ]
    relevant = sum(pair.answers for pair in PAIRS)
    return sum(proposed) / len(proposed), sum(proposed) / relevant


def test_the_labelled_pairs_hold_realistic_hard_cases():
    assert len(PAIRS) >= 50
    assert sum(p.answers for p in PAIRS) >= 20 and sum(not p.answers for p in PAIRS) >= 25


def test_the_default_threshold_proposes_nine_in_ten_answers_and_few_wrong_ones(settings):
    precision, recall = precision_recall(settings.STORY_FOLLOWUP_THRESHOLD)
    print(
        f"\nfollow-up threshold {settings.STORY_FOLLOWUP_THRESHOLD}: precision {precision:.2f}, recall {recall:.2f}"
    )
    assert precision >= 0.9 and recall >= 0.9
    # A lower threshold lets through reports that only share the subject.
    assert precision_recall(0.2)[0] < 0.85


def test_proposals_on_the_database_make_the_decisions_the_labelled_scores_make(publish_version, settings):
    """Each labelled pair through the production path: the question asked by a published story,
    the report grouped later; proposed exactly when the offline score says so."""
    for title, lead in {(pair.title, pair.lead) for pair in PAIRS}:
        count_terms(term_counts(title, lead))
    expected = [
        score >= settings.STORY_FOLLOWUP_THRESHOLD and shared >= followups.MIN_SHARED_TERMS
        for score, shared, _ in labelled_scores()
    ]
    decided = []
    for n, pair in enumerate(PAIRS):
        asker = factories.make_article(
            title=f"Story {n}", status=Article.Status.IN_REVIEW, published_at=hours_ago(5)
        )
        publish_version(asker, pair.question)
        report = later_report(pair.title, pair.lead, url=f"https://later.example.com/{n}")
        decided.append(bool(followups.answers_propose(article=report)))
        OpenQuestion.objects.filter(story_id=asker.story_id).update(status=Status.DISMISSED)  # out of the way

    assert decided == expected


# --- End to end -------------------------------------------------------------------------------


@pytest.fixture
def fake_anthropic(settings, monkeypatch):
    """The Messages API as a loopback server, driven by the real client (tests/fakes/)."""
    from tests.fakes.anthropic_server import FakeAnthropic

    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        settings.ANTHROPIC_API_KEY = "test-key"
        settings.SUMMARY_BACKEND = "anthropic"
        yield fake


def test_a_story_summary_approved_on_the_desk_asks_its_questions_and_a_later_report_is_proposed(
    fake_anthropic, editor, django_capture_on_commit_callbacks
):
    """Through the production path: the lead summarised from the story's two sources by the
    model, approved by an editor, a later report grouped by the grouping task."""
    from articles.desk import services as desk_services
    from articles.summarizers import workflow

    lead = later_report(RAIL[0], RAIL[1], published_at=hours_ago(3))
    later_report(
        "Light-rail line across the river wins council approval",
        "Councillors approved a 2.4 billion dollar light-rail line across the river on Tuesday after "
        "a long debate. Building it will take seven years. Hearings on the route open in the spring. " * 3,
        story=lead.story,
        published_at=hours_ago(2),
    )
    workflow.article_summarize(article_id=lead.pk)
    summary = Article.objects.get(pk=lead.pk).latest_summary
    assert len(summary.sources) == 2  # a story summary
    with django_capture_on_commit_callbacks(execute=True):
        desk_services.article_approve(
            article=Article.objects.get(pk=lead.pk), editor=editor, based_on_version=summary.version
        )

    asked = followups.watch_sentences(followups.what_to_watch(summary))
    assert asked and texts(lead.story) == asked

    report = factories.make_ungrouped_article(
        title=f"Update: {asked[0]}", extracted_text=asked[0], published_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.group_article(report.pk)
    question = lead.story.open_questions.get(text=asked[0])
    assert question.status == Status.PROPOSED and question.answer_article_id == report.pk
