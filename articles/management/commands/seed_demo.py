"""Create the demo desk for `make run`: topics, sources, fifteen articles (most published, a
few waiting for review) and a republished copy, grouped into stories through the pipeline's
own grouping (several events are covered by more than one source), users.

Idempotent: every row is looked up by its natural key first, so a second run changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from articles import demo_content
from articles.desk.evidence import grounding_of
from articles.models import KEY_POINT_HEADINGS, Article, AuditEntry, Source, Summary, Topic
from articles.stories.services import article_group

DEMO_USERS = [
    # email, password, display name, group, staff
    ("editor@newsroom.test", "newsroom-editor", "Demo Editor", "Editors", True),
    ("moderator@newsroom.test", "newsroom-moderator", "Demo Moderator", "Moderators", True),
    ("reader@newsroom.test", "newsroom-reader", "Demo Reader", None, False),
]


class Command(BaseCommand):
    help = "Create demo topics, sources, articles (published and in review) and demo accounts (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users = {
            email: self._user(email, pw, name, group, staff) for email, pw, name, group, staff in DEMO_USERS
        }
        editor = users["editor@newsroom.test"]
        topics = {slug: self._topic(name, slug, desc) for name, slug, desc in demo_content.TOPICS}
        sources = [
            self._source(name, url, [topics[s] for s in slugs]) for name, url, slugs in demo_content.SOURCES
        ]

        created = 0
        now = timezone.now()
        for story in demo_content.STORIES:
            if self._story(story, sources, topics, editor, now):
                created += 1
        for copy in demo_content.COPIES:
            if self._copy(copy, sources, now):
                created += 1
        # Grouped as the pipeline groups them: each article once, in publication order.
        ungrouped = Article.objects.filter(source__in=sources, story__isnull=True).exclude(
            status=Article.Status.NEW
        )
        outcomes = [article_group(article=a) for a in ungrouped.order_by("published_at", "pk")]
        total = len(demo_content.STORIES) + len(demo_content.COPIES)
        self.stdout.write(
            f"Demo content: {len(topics)} topics, {len(sources)} sources, "
            f"{created} new articles ({total - created} already present), {len(outcomes)} grouped "
            f"({sum(o.is_copy for o in outcomes)} as copies)."
        )

    def _user(self, email: str, password: str, name: str, group: str | None, staff: bool) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, display_name=name, is_staff=staff)
            # Shift date_joined back so demo accounts are not held as brand-new commenters.
            User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=30))
        if group:
            user.groups.add(Group.objects.get(name=group))
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user

    def _topic(self, name: str, slug: str, description: str) -> Topic:
        topic, _ = Topic.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
        return topic

    def _source(self, name: str, site_url: str, topics: list[Topic]) -> Source:
        source, created = Source.objects.get_or_create(
            feed_url=f"{site_url}/feed.xml",
            # Demo sources are never polled: they point at example.com.
            defaults={"name": name, "site_url": site_url + "/", "language": "en", "is_active": False},
        )
        if created:
            source.topics.set(topics)
        return source

    def _story(self, story: dict, sources: list[Source], topics: dict[str, Topic], editor: User, now) -> bool:
        source = sources[story["source"]]
        url = f"{source.site_url}{timezone.now().year}/{slugify(story['title'])}"
        if Article.objects.filter(title=story["title"], source=source).exists():
            return False
        sentences: list[str] = story["sentences"]
        paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
        published_at = now - timedelta(hours=story["hours_ago"])

        article = Article(
            source=source,
            url=url,
            guid=url,
            title=story["title"],
            author=story["author"],
            published_at=published_at,
            fetched_at=published_at + timedelta(minutes=5),
            language="en",
            status=Article.Status.IN_REVIEW,
        )
        article.set_text("\n\n".join(paragraphs))
        article.full_clean()
        article.save()
        article.topics.set([topics[s] for s in story["topics"]])

        key_points = [
            {"heading": heading, "text": text, "evidence": [sentences[i] for i in idx]}
            for heading, (text, idx) in zip(KEY_POINT_HEADINGS, story["points"], strict=True)
        ]
        faq = [
            {"question": q, "answer": a, "evidence": [sentences[i] for i in idx]}
            for q, a, idx in story["faq"]
        ]
        summary = Summary.create_version(
            article=article,
            kind=Summary.Kind.AI,
            producer="claude-haiku-4-5 (demo)",
            prompt_version="demo",
            key_takeaway=story["takeaway"],
            key_points=key_points,
            faq=faq,
            suggested_topics=story["topics"],
            grounding_score=1.0,
            created_at=published_at + timedelta(minutes=10),
        )
        AuditEntry.record(
            "summarize", article=article, from_status="summarizing", to_status="in_review", automatic=True
        )
        state = demo_content.DESK_STATES.get(story["title"], "published")
        if state == "unverified":
            self._flag_unverified(article, summary)
        if state in ("published", "regenerated"):
            article.publish(summary, by=editor, reason="demo content")
            # Keep the story's own timeline: it went live half an hour after its source published it.
            Article.objects.filter(pk=article.pk).update(
                published_on_site_at=published_at + timedelta(minutes=30)
            )
        if state == "regenerated":
            self._regenerated_version(article, summary)
        return True

    def _copy(self, copy: dict, sources: list[Source], now) -> bool:
        """Another outlet republishing a story word for word with a credit line: extracted,
        never summarised (grouping makes it a copy of the original)."""
        source = sources[copy["source"]]
        if Article.objects.filter(title=copy["title"], source=source).exists():
            return False
        original = next(s for s in demo_content.STORIES if s["title"] == copy["of"])
        sentences: list[str] = original["sentences"]
        paragraphs = [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]
        url = f"{source.site_url}{timezone.now().year}/{slugify(copy['title'])}"
        published_at = now - timedelta(hours=copy["hours_ago"])
        article = Article(
            source=source,
            url=url,
            guid=url,
            title=copy["title"],
            author=original["author"],
            published_at=published_at,
            fetched_at=published_at + timedelta(minutes=5),
            language="en",
            status=Article.Status.EXTRACTED,
        )
        article.set_text("\n\n".join([*paragraphs, copy["credit"]]))
        article.full_clean()
        article.save()
        return True

    def _flag_unverified(self, article: Article, summary: Summary) -> None:
        """Replace the draft with one whose last key point cites a quote the article lacks,
        scored by the same grounding rule the pipeline uses."""
        key_points = [dict(p) for p in summary.key_points]
        key_points[2].update(demo_content.UNVERIFIED_POINT)
        fields = {"key_takeaway": summary.key_takeaway, "key_points": key_points, "faq": summary.faq}
        score, unverified = grounding_of(article.extracted_text, fields)
        quote = demo_content.UNVERIFIED_POINT["evidence"][0]
        Summary.objects.filter(pk=summary.pk).update(
            key_points=key_points,
            grounding_score=score,
            unverified_claims=unverified,
            validation_warnings=[f"Evidence quote not found in the article: {quote}"],
        )
        article.explain_status(f"Flagged: grounding {score:.2f}, 1 warning(s)")

    def _regenerated_version(self, article: Article, live: Summary) -> None:
        """A regenerated AI version waiting beside the live one, as the desk's Regenerate leaves it."""
        homes = "About 9,000 homes will be warmed by an AI data centre's waste heat"
        version = Summary.create_version(
            article=article,
            kind=Summary.Kind.AI,
            producer=live.producer,
            prompt_version=live.prompt_version,
            key_takeaway=f"{homes}, cutting the city's gas use for heating by about a fifth.",
            key_points=live.key_points,
            faq=live.faq,
            suggested_topics=live.suggested_topics,
            grounding_score=1.0,
            editor_note=demo_content.REGENERATED_NOTE,
        )
        reason = f"Regenerated version {version.version} awaits review; version on the site stays live."
        Article.objects.filter(pk=article.pk).update(needs_attention=True, status_reason=reason)
        AuditEntry.record(
            "summarize",
            article=article,
            from_status=Article.Status.PUBLISHED,
            to_status=Article.Status.PUBLISHED,
            automatic=True,
            reason=reason,
            version=version.version,
        )
