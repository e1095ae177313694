"""Plain factory functions for test data: each returns a saved, valid row.

The one home of test-data builders (users and commenters, sources, articles, summaries,
newsletter subscribers). Pytest fixtures live in the conftest.py files and call these.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts.models import User
from accounts.services import user_mark_email_verified
from articles.models import (
    KEY_POINT_HEADINGS,
    Article,
    OpenQuestion,
    Source,
    Story,
    StoryUpdate,
    Summary,
    Topic,
)
from newsletter.models import Subscriber

_seq = itertools.count(1)

ARTICLE_TEXT = (
    "The city council voted on Tuesday to build a new light-rail line across the river. "
    "The project will cost 2.4 billion dollars and take seven years to finish. "
    "Supporters say the line will cut commuting times in half for forty thousand riders. "
    "Critics worry that construction will close the main bridge for two summers. "
    "The first public hearings on the route are planned for the spring."
)


def make_user(
    *, email: str | None = None, group: str | None = None, staff: bool = False, **extra: Any
) -> User:
    user = User.objects.create_user(
        email=email or f"user{next(_seq)}@example.com",
        password="correct horse battery",
        is_staff=staff,
        **extra,
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_editor_by_permission() -> User:
    """A staff user who may approve summaries, by permission rather than by group: in a
    transactional test a previous test's flush may have left no groups and no permission
    rows, so the permission is created when missing."""
    user = make_user(staff=True)
    permission, _ = Permission.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(Article),
        codename="approve_article",
        defaults={"name": "Can approve and publish summaries"},
    )
    user.user_permissions.add(permission)
    return user


def verify(user: User, *, age_days: int = 30) -> User:
    """Mark the user's email verified and the account `age_days` old (past the new-account hold)."""
    user_mark_email_verified(user=user)
    user.date_joined = timezone.now() - dt.timedelta(days=age_days)
    user.save(update_fields=["date_joined"])
    return user


def make_commenter(*, age_days: int = 30, **extra: Any) -> User:
    """A reader who may comment: email verified, account past the new-account hold."""
    return verify(make_user(**extra), age_days=age_days)


def make_topic(name: str | None = None) -> Topic:
    name = name or f"Topic {next(_seq)}"
    topic, _ = Topic.objects.get_or_create(name=name, defaults={"slug": name.lower().replace(" ", "-")})
    return topic


def make_source(**fields: Any) -> Source:
    n = next(_seq)
    fields.setdefault("name", f"Source {n}")
    fields.setdefault("feed_url", f"https://source{n}.example.com/feed.xml")
    fields.setdefault("site_url", f"https://source{n}.example.com/")
    return Source.objects.create(**fields)


def make_article(
    *, source: Source | None = None, status: str = Article.Status.EXTRACTED, **fields: Any
) -> Article:
    n = next(_seq)
    article = Article(
        source=source or make_source(),
        url=fields.pop("url", f"https://news.example.com/story-{n}"),
        title=fields.pop("title", f"Council approves light-rail line {n}"),
        **fields,
    )
    article.set_text(fields.get("extracted_text") or ARTICLE_TEXT)
    article.status = status
    article.save()
    if article.story_id is None and status != Article.Status.NEW:
        # Past extraction every article belongs to a story: by default one of its own.
        article.story = Story.objects.create(title=article.title, first_seen_at=article.published_at)
        article.save(update_fields=["story"])
    if article.story_id is not None:
        article.story.recount()
    return article


def make_story(*, articles: int = 0, **fields: Any) -> Story:
    """A story; with `articles`, that many extracted articles from as many sources."""
    story = Story.objects.create(title=fields.pop("title", f"Story {next(_seq)}"), **fields)
    for _ in range(articles):
        make_article(story=story)
    story.refresh_from_db()
    return story


def make_ungrouped_article(*, status: str = Article.Status.EXTRACTED, **fields: Any) -> Article:
    """An article just extracted and not yet placed in a story: what grouping receives
    (articles/stories/services.py). `extracted_text` may be empty."""
    n = next(_seq)
    article = Article(
        source=fields.pop("source", None) or make_source(),
        url=fields.pop("url", f"https://news.example.com/ungrouped-{n}"),
        title=fields.pop("title", f"Council approves light-rail line {n}"),
        status=status,
    )
    article.set_text(fields.pop("extracted_text", ARTICLE_TEXT))
    for name, value in fields.items():
        setattr(article, name, value)
    article.save()
    return article


def summary_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": Summary.Kind.EXTRACTIVE,
        "producer": "extractive",
        "key_takeaway": "The council approved a 2.4 billion dollar light-rail line across the river.",
        "key_points": [
            {
                "heading": KEY_POINT_HEADINGS[0],
                "text": "The council voted to build a light-rail line.",
                "evidence": [
                    "The city council voted on Tuesday to build a new light-rail line across the river."
                ],
            },
            {
                "heading": KEY_POINT_HEADINGS[1],
                "text": "Commutes could be cut in half.",
                "evidence": ["cut commuting times in half for forty thousand riders"],
            },
            {
                "heading": KEY_POINT_HEADINGS[2],
                "text": "Public hearings come in the spring.",
                "evidence": ["The first public hearings on the route are planned for the spring."],
            },
        ],
        "faq": [
            {
                "question": "How much will it cost?",
                "answer": "2.4 billion dollars over seven years.",
                "evidence": ["The project will cost 2.4 billion dollars and take seven years to finish."],
            }
        ],
    }
    fields.update(overrides)
    return fields


def story_summary_fields(sources: list[Article], **overrides: Any) -> dict[str, Any]:
    """Fields of a story summary written from `sources` (numbered 1, 2, … in that order), as
    the story pipeline stores one: "What happened" cites every source with a verified quote
    each; "Why it matters" one source ("single source"); "What to watch" the first source,
    plus a citation the grounding check could not verify; the FAQ answer the first two."""
    rows = [
        {"n": n, "article_id": a.pk, "source": a.source.name, "url": a.url, "title": a.title}
        for n, a in enumerate(sources, start=1)
    ]
    numbers = [row["n"] for row in rows]

    def cite(n: int, quote: str, *, verified: bool = True) -> dict[str, Any]:
        return {"source": n, "quote": quote, "verified": verified}

    base = summary_fields(kind=Summary.Kind.AI, producer="claude-haiku-4-5")
    points = base["key_points"]
    points[0]["citations"] = [
        cite(n, "The city council voted on Tuesday to build a new light-rail line across the river.")
        for n in numbers
    ]
    points[0]["single_source"] = len(numbers) == 1
    points[1]["citations"] = [cite(numbers[-1], "cut commuting times in half for forty thousand riders")]
    points[1]["single_source"] = True
    points[2]["citations"] = [
        cite(numbers[0], "The first public hearings on the route are planned for the spring."),
        cite(numbers[-1], "Hearings were cancelled outright.", verified=False),
    ]
    points[2]["single_source"] = True
    faq = base["faq"]
    faq[0]["citations"] = [
        cite(n, "The project will cost 2.4 billion dollars and take seven years to finish.")
        for n in numbers[:2]
    ]
    faq[0]["single_source"] = len(numbers[:2]) == 1
    fields = {**base, "sources": rows}
    fields.update(overrides)
    return fields


def publish_story_summary(
    article: Article, sources: list[Article], *, by: User | None = None, **overrides: Any
) -> Summary:
    """Publish a story summary of `sources` as `article`'s next version, through
    Article.publish: approved by the editor `by`, or by the auto-publish rule when None."""
    summary = Summary.create_version(article=article, **story_summary_fields(sources, **overrides))
    article.refresh_from_db()
    if article.status != Article.Status.PUBLISHED:
        article.transition_to(Article.Status.SUMMARIZING)
        article.transition_to(Article.Status.IN_REVIEW)
    article.publish(summary, by=by, automatic=by is None)
    return summary


def make_story_update(
    story: Story, text: str, *, happened_at: dt.datetime | None = None, summary: Summary | None = None
) -> StoryUpdate:
    """A dated development on `story`'s timeline."""
    return StoryUpdate.objects.create(
        story=story, text=text, happened_at=happened_at or timezone.now(), summary=summary
    )


def make_follow_up(
    story: Story, *, answered_by: Story, text: str = "When will hearings begin?"
) -> OpenQuestion:
    """A "What to watch" question of `story` that an editor accepted as answered by a report
    in `answered_by`, through the question's guarded status (open → proposed → accepted)."""
    question = OpenQuestion.objects.create(story=story, text=text)
    answer = answered_by.articles.order_by("pk").first()
    question.transition_to(OpenQuestion.Status.PROPOSED, answer_story=answered_by, answer_article=answer)
    question.transition_to(OpenQuestion.Status.ACCEPTED)
    return question


def make_published_article(*, approved_by: User | None = None, **fields: Any) -> Article:
    """An article with an approved summary, live on the site."""
    article = make_article(status=Article.Status.PUBLISHED, **fields)
    now = timezone.now()
    Summary.create_version(article=article, approved_at=now, approved_by=approved_by, **summary_fields())
    article.published_on_site_at = now
    article.save(update_fields=["published_on_site_at"])
    return article


def make_review_article(*, summary: dict[str, Any] | None = None, **fields: Any) -> Article:
    """An article waiting on the desk (in_review) with one machine-written summary version."""
    article = make_article(status=Article.Status.IN_REVIEW, **fields)
    Summary.create_version(article=article, **summary_fields(**(summary or {})))
    return article


def publish(
    *,
    title: str,
    topics: Iterable[Topic] = (),
    ago: dt.timedelta = dt.timedelta(hours=1),
    **fields: Any,
) -> Article:
    """A published article with an approved summary, put on the site `ago` before now."""
    article = make_published_article(title=title, **fields)
    article.published_on_site_at = timezone.now() - ago
    article.save(update_fields=["published_on_site_at"])
    article.topics.set(topics)
    return article


def make_subscriber(**fields: Any) -> Subscriber:
    """A newsletter subscriber, confirmed unless `status` says otherwise."""
    topics = fields.pop("topics", [])
    fields.setdefault("email", f"subscriber{next(_seq)}@example.com")
    fields.setdefault("status", Subscriber.Status.CONFIRMED)
    fields.setdefault("send_hour", 7)
    fields.setdefault("timezone", "UTC")
    if fields["status"] == Subscriber.Status.CONFIRMED:
        fields.setdefault("confirmed_at", timezone.now())
    subscriber = Subscriber.objects.create(**fields)
    subscriber.topics.set(topics)
    return subscriber
