"""Sources, topics, articles, their AI summaries and the desk's audit log."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from newsroom.guarded import compare_and_set

WORDS_PER_MINUTE = 230  # a common adult silent-reading speed for non-fiction
KEY_POINT_HEADINGS = ("What happened", "Why it matters", "What to watch")

http_url_validator = URLValidator(schemes=["http", "https"])


def validate_http_url(value: str) -> None:
    """Only http(s) URLs: a feed or article elsewhere (file:, ftp:, javascript:) is refused."""
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ValidationError(_("Only http and https URLs are allowed."), code="scheme")
    http_url_validator(value)


# Scripts written without spaces between words (Chinese, Japanese kana and kanji): a
# character class, linear on any text.
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_UNSPACED_PUNCTUATION = re.compile(r"[\u3000-\u303f]")  # 。、「」 and the ideographic space
# Characters a word of those scripts takes on average (a Japanese or Chinese word is one to
# three characters).
UNSPACED_CHARS_PER_WORD = 2


def count_words(text: str) -> int:
    """Words of `text`: spaced words, plus one word per UNSPACED_CHARS_PER_WORD characters of a
    script written without spaces, so a Japanese report is not "thin" for having no spaces."""
    unspaced = len(_UNSPACED_SCRIPT.findall(text))
    if not unspaced:
        return len(text.split())
    spaced = _UNSPACED_PUNCTUATION.sub(" ", _UNSPACED_SCRIPT.sub(" ", text)).split()
    # What is left around those characters ("(", "」") is not a word of its own.
    words = sum(1 for token in spaced if any(ch.isalnum() for ch in token))
    return words + math.ceil(unspaced / UNSPACED_CHARS_PER_WORD)


def read_time_minutes(word_count: int) -> int:
    """Minutes to read the original, never less than one for a non-empty text."""
    if word_count <= 0:
        return 0
    return max(1, math.ceil(word_count / WORDS_PER_MINUTE))


def text_hash(text: str) -> str:
    """Hash of the whitespace-normalised text: identical articles at two URLs share it."""
    normalised = " ".join(text.split()).lower()
    return hashlib.sha256(normalised.encode()).hexdigest()


class Topic(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=240, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("topic", args=[self.slug])


class SourceQuerySet(models.QuerySet["Source"]):
    def active(self) -> SourceQuerySet:
        return self.filter(is_active=True, paused_at__isnull=True)

    def due(self, now=None) -> SourceQuerySet:
        now = now or timezone.now()
        return self.active().filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))

    def failing(self) -> SourceQuerySet:
        return self.filter(Q(consecutive_failures__gt=0) | Q(paused_at__isnull=False))


class Source(models.Model):
    """An RSS/Atom/JSON feed we poll, with its fetch state kept between polls."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, blank=True)
    site_url = models.URLField(max_length=500, blank=True, validators=[validate_http_url])
    feed_url = models.URLField(max_length=1000, unique=True, validators=[validate_http_url])
    language = models.CharField(max_length=16, blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="sources")
    is_active = models.BooleanField(default=True)
    # Auto-publish: only for explicitly trusted sources, and only fully grounded summaries.
    auto_publish = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    # Fetch state.
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    poll_interval_seconds = models.PositiveIntegerField(default=3600)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_status = models.CharField(max_length=32, blank=True)
    last_error_class = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    # A permanent redirect must be seen on several consecutive polls before we move the URL.
    redirect_target = models.URLField(max_length=1000, blank=True)
    redirect_streak = models.PositiveSmallIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = unique_slug(Source, self.name or urlsplit(self.feed_url).hostname or "source")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("source", args=[self.slug])


class FetchAttempt(models.Model):
    """One poll of one source: kept so an editor can see why a feed is failing."""

    class Outcome(models.TextChoices):
        OK = "ok", _("OK")
        NOT_MODIFIED = "not-modified", _("Not modified")
        FAILED = "failed", _("Failed")

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="fetch_attempts")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # network, timeout, too-large, not-a-feed, http-error, blocked, thin-content, ...
    error_class = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    entries_found = models.PositiveIntegerField(default=0)
    entries_new = models.PositiveIntegerField(default=0)
    entries_duplicate = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} @ {self.started_at:%Y-%m-%d %H:%M}: {self.outcome}"


class WebSubSubscriptionQuerySet(models.QuerySet["WebSubSubscription"]):
    def live(self, now: datetime | None = None) -> WebSubSubscriptionQuerySet:
        """Verified by the hub with a lease still running: its source is pushed to."""
        return self.filter(expires_at__gt=now or timezone.now())

    def due(self, now: datetime | None = None) -> WebSubSubscriptionQuerySet:
        """A subscription request (first, renewal or retry) should go to the hub, and the desk
        has not paused or switched off the source."""
        return self.filter(
            next_request_at__lte=now or timezone.now(), source__is_active=True, source__paused_at__isnull=True
        )


class WebSubSubscription(models.Model):
    """Our subscription to a source's WebSub hub (articles/ingest/websub.py, docs/ingest.md).

    A poll that finds the feed naming a hub creates it; the beat sends the subscription
    request; the hub's verification of that request starts the lease. The callback URL
    carries `token`, so only a hub we asked can reach this row, and every push must be signed
    with `secret`. `requested_mode` is what we asked the hub and it has not yet verified:
    the callback confirms nothing else.
    """

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="websub")
    hub_url = models.URLField(max_length=1000, validators=[validate_http_url])
    # The feed's rel="self" URL (or the URL we fetched it from): what the hub calls the topic.
    topic_url = models.URLField(max_length=1000, validators=[validate_http_url])
    token = models.CharField(max_length=64, unique=True, editable=False)
    secret = models.CharField(max_length=64, editable=False)
    requested_mode = models.CharField(max_length=16, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    # When the beat should next ask the hub (first request, renewal, retry); NULL: nothing due.
    next_request_at = models.DateTimeField(null=True, blank=True, db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = WebSubSubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = "WebSub subscription"

    def __str__(self) -> str:
        return f"{self.source} via {self.hub_url}"

    def is_live(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at > (now or timezone.now())

    @classmethod
    def record_discovery(cls, *, source: Source, hub_url: str, topic_url: str, now: datetime) -> None:
        """Keep what a successful poll of `source` found about its feed's hub.

        The same hub and topic as recorded: nothing is written (one SELECT). A new hub or topic:
        the row takes them with a new token and secret, so pushes from the old subscription are
        refused, its lease is dropped and a subscription request is due now. No hub any more:
        the row is deleted (its token refuses pushes from then on) and the source is polled at
        its own pace again.
        """
        if not hub_url:
            cls.objects.filter(source=source).delete()
            return
        current = cls.objects.filter(source=source).only("hub_url", "topic_url").first()
        if current is not None and (current.hub_url, current.topic_url) == (hub_url, topic_url):
            return
        fresh = {
            "hub_url": hub_url,
            "topic_url": topic_url,
            "token": secrets.token_urlsafe(32),
            "secret": secrets.token_urlsafe(32),
            "requested_mode": "",
            "requested_at": None,
            "next_request_at": now,
            "verified_at": None,
            "lease_seconds": None,
            "expires_at": None,
            "failures": 0,
            "last_error": "",
        }
        if current is not None:
            cls.objects.filter(pk=current.pk).update(**fresh)
            return
        try:
            with transaction.atomic():
                cls.objects.create(source=source, **fresh)
        except IntegrityError:
            pass  # another poll of this source recorded it a moment ago


class IllegalTransition(Exception):
    """An article was asked to move to a status its current status cannot reach."""


class StaleState(Exception):
    """The article changed in the database since it was read: another worker or editor got
    there first. Nothing was written; re-read the article before deciding again."""


# Sent when a story's membership or lead changes (grouping placed an article, an editor merged,
# moved, split or picked a lead) with `story_ids`: the stories whose pages and cards show it.
# Receivers defer their work to transaction.on_commit.
story_changed = Signal()

# Sent after a write to an open question that readers may see (OpenQuestion.transition_to sends
# it on every status change) with `question` (updated in memory). An accepted question puts
# "Follow-up: …" on its story's pages and "Follows up: …" on the answering story's; receivers
# (articles/reader/invalidation.py) retire those pages on commit. Any other write to an
# accepted question (a new answer story, a deletion) must send it too.
open_question_changed = Signal()


class StoryQuerySet(models.QuerySet["Story"]):
    def recent(self, since: datetime) -> StoryQuerySet:
        """Stories still open to new articles: seen since `since` (the grouping window), and
        not merged into another story by an editor."""
        return self.filter(last_seen_at__gte=since, merged_into__isnull=True)

    def on_site(self) -> StoryQuerySet:
        """Stories with at least one published article."""
        return self.filter(
            articles__status=Article.Status.PUBLISHED, articles__published_on_site_at__lte=timezone.now()
        ).distinct()


class Story(models.Model):
    """The same event reported by one or more sources: every grouped article belongs to one.

    Automatic grouping (articles/stories/) only ever places a newly extracted article; it
    never moves an article an editor placed (`Article.story_locked`) and never merges a story
    an editor has shaped (`editor_locked`). Editors merge, move, split and pick the lead in
    the desk (articles/desk/stories.py), each decision audited.

    A story merged into another keeps its row, empty, with `merged_into` set: its URL still
    leads readers to the story it became part of.
    """

    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=220, unique=True, blank=True)
    # Earliest and latest publication time of its articles. last_seen_at bounds the window
    # in which a new article may still join (STORY_WINDOW_HOURS).
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    lead = models.ForeignKey("Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Distinct sources among its articles, copies included ("N sources").
    source_count = models.PositiveIntegerField(default=0)
    article_count = models.PositiveIntegerField(default=0)
    # Set when an editor merges, splits, moves into or picks the lead of this story; such a
    # story's lead and shape are never changed by automatic grouping.
    editor_locked = models.BooleanField(default=False)
    # The grouping's summary of the story: term counts of its distinct articles
    # (articles/stories/similarity.py). Never shown to readers.
    profile = models.JSONField(default=dict, blank=True)
    # The grouping's vectors of its latest distinct articles (grouping.MEMBERS, oldest first),
    # which new articles are scored against. Never shown to readers.
    member_vectors = models.JSONField(default=list, blank=True)
    # The grouping's hub scores (grouping.HUB_NEIGHBOURS highest scores the story received from
    # articles placed in another story), which lower its score. Never shown to readers.
    hub_scores = models.JSONField(default=list, blank=True)
    # With an embeddings backend (STORY_EMBEDDINGS_URL): the sum of its distinct articles'
    # sentence vectors, float32 (articles/stories/embeddings.py). Never shown to readers.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    # Set when an editor merged this story into another: it has no articles left and its
    # page redirects there. Always one hop: a later merge of the target repoints it.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_stories"
    )

    objects = StoryQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name_plural = "stories"

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = unique_slug(Story, self.title, max_length=200)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("story", args=[self.slug])

    def recount(self) -> None:
        """Recompute what the story shows from its articles, with one UPDATE of those columns:
        counts, first/last seen, and (unless an editor chose it) the lead: the earliest
        article that is not a copy and not rejected, whose title the story takes. Callers hold the story's
        row (grouping lock or select_for_update); an empty story keeps its row and zeros."""
        members = list(
            self.articles.order_by("published_at", "pk").values(
                "pk", "title", "source_id", "published_at", "duplicate_of_id", "status"
            )
        )
        values: dict[str, Any] = {
            "article_count": len(members),
            "source_count": len({m["source_id"] for m in members}),
            "updated_at": timezone.now(),
        }
        if members:
            values["first_seen_at"] = members[0]["published_at"]
            values["last_seen_at"] = max(m["published_at"] for m in members)
            originals = [m for m in members if m["duplicate_of_id"] is None] or members
            # A rejected article never leads while another can: its title would name the story.
            originals = [m for m in originals if m["status"] != Article.Status.REJECTED] or originals
            # The lead carries the story's summary: an article already summarised keeps the
            # lead when an earlier report arrives late (that report updates the summary).
            originals = [m for m in originals if m["status"] in Article.SUMMARISED] or originals
            chosen = [m for m in members if m["pk"] == self.lead_id] if self.editor_locked else []
            lead = (chosen or originals)[0]
            values["lead_id"], values["title"] = lead["pk"], lead["title"]
        Story.objects.filter(pk=self.pk).update(**values)
        for name, value in values.items():
            setattr(self, name, value)


class StoryUpdate(models.Model):
    """One dated development on a story's timeline: its first publication, then each later
    summary version that brought something new (its update line). Written when the version
    is published, never edited by the pipeline afterwards."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="updates")
    happened_at = models.DateTimeField(default=timezone.now, db_index=True)
    text = models.CharField(max_length=300)
    summary = models.ForeignKey("Summary", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["story", "-happened_at", "-pk"]
        constraints = [
            # A version goes on the timeline once, however often it is published again.
            models.UniqueConstraint(fields=["story", "summary"], name="story_update_once_per_summary"),
        ]

    def __str__(self) -> str:
        return f"{self.story}: {self.text}"

    @classmethod
    def record_publication(cls, *, story_id: int, summary: Summary, article: Article, at: datetime) -> None:
        """Put a published version on its story's timeline: the first publication as the
        story's opening development (dated when it was first reported), a later version by
        its update line. A correction without an update line adds nothing."""
        if summary.update_line:
            cls.objects.get_or_create(
                story_id=story_id, summary=summary, defaults={"text": summary.update_line, "happened_at": at}
            )
        elif not cls.objects.filter(story_id=story_id).exists():
            points = summary.key_points or [{}]
            first = str(points[0].get("text") or summary.key_takeaway)
            cls.objects.create(
                story_id=story_id, summary=summary, text=first[:300], happened_at=article.published_at
            )


class StaleQuestion(Exception):
    """An open question changed since it was read; nothing was written."""


class OpenQuestion(models.Model):
    """A "What to watch" point kept open on its story until a later report answers it.

    Grouping proposes the article (and so the story) that may answer it; an editor accepts
    or dismisses the proposal in the desk. Once accepted, the old story shows "Follow-up: …"
    linking to the answering story, and its topic's subscribers see it in their next digest.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PROPOSED = "proposed", _("Answer proposed")
        ACCEPTED = "accepted", _("Answered")
        DISMISSED = "dismissed", _("Closed without answer")

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.PROPOSED, Status.DISMISSED}),
        # An editor who rejects a proposal sends the question back to open.
        Status.PROPOSED: frozenset({Status.ACCEPTED, Status.OPEN, Status.DISMISSED}),
        Status.ACCEPTED: frozenset(),
        Status.DISMISSED: frozenset({Status.OPEN}),
    }

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="open_questions")
    summary = models.ForeignKey("Summary", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # The report grouping found that may answer the question, and how well it matched.
    answer_article = models.ForeignKey(
        "Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_questions"
    )
    answer_story = models.ForeignKey(
        Story, null=True, blank=True, on_delete=models.SET_NULL, related_name="answered_questions"
    )
    answer_score = models.FloatField(default=0.0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.text[:80]

    def transition_to(self, status: str, **changes: Any) -> None:
        """The one door for a question's status: a compare-and-set on the status read.
        Raises StaleQuestion (nothing written) when another worker or editor moved it first."""
        if status not in self.TRANSITIONS.get(self.status, frozenset()):
            raise IllegalTransition(f"An open question cannot go from {self.status!r} to {status!r}.")
        values = {"status": status, "status_changed_at": timezone.now(), **changes}
        if not compare_and_set(self, OpenQuestion.objects.filter(status=self.status), values):
            raise StaleQuestion(f"Open question {self.pk} changed since it was read; nothing was written.")
        open_question_changed.send(sender=OpenQuestion, question=self)


class QuestionTerm(models.Model):
    """The terms of an open question's text, for finding the questions a new report may answer
    (articles/stories/followups.py): a new article is compared only with the questions sharing
    its terms, never with every question asked. Rows live while their question may still be
    answered (open or proposed) and its story was seen recently."""

    question = models.ForeignKey(OpenQuestion, on_delete=models.CASCADE, related_name="index_terms")
    term = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "term"], name="question_term_unique")]
        indexes = [models.Index(fields=["term"])]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.term}"


# Sent after a guarded write to an article (a status change, a publication or a correction)
# with `article` (updated in memory) and `from_status`. Receivers defer their work to
# transaction.on_commit. Guarded writes are UPDATEs, which send no post_save.
article_state_changed = Signal()


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.PUBLISHED, published_on_site_at__lte=timezone.now())

    def in_review(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.IN_REVIEW)

    def due_for_summary(self) -> ArticleQuerySet:
        """Extracted originals placed in a story that lead it: a copy is covered by its
        original's summary, and an article is grouped (and found to be a copy or not) before
        it is summarised."""
        due = self.filter(status=Article.Status.EXTRACTED, duplicate_of__isnull=True, story__isnull=False)
        # With story summaries only the lead is summarised; the story's other reports update
        # its summary instead (summarizers/updates.py).
        return due.filter(story__lead_id=models.F("pk")) if settings.STORY_SUMMARIES else due

    def covered_by_story(self) -> ArticleQuerySet:
        """Originals whose story another report leads: with story summaries they are never
        summarised on their own (the story's summary covers them, updated when they bring
        something new). None without story summaries."""
        if not settings.STORY_SUMMARIES:
            return self.none()
        return self.filter(duplicate_of__isnull=True, story__isnull=False).exclude(
            story__lead_id=models.F("pk")
        )

    def stuck_summarizing(self, older_than_seconds: int) -> ArticleQuerySet:
        cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
        return self.filter(status=Article.Status.SUMMARIZING, status_changed_at__lt=cutoff)

    def stuck_regenerating(self, older_than_seconds: int) -> ArticleQuerySet:
        """Published articles whose live regenerate claim outlived its worker."""
        cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
        return self.filter(summarizing_since__lt=cutoff)

    def awaiting_review(self) -> ArticleQuerySet:
        """The desk's queue: articles in review, and live ones with something for an editor
        (a regenerated version waiting, or a reader's report) while they stay on the site."""
        return self.filter(
            Q(status=Article.Status.IN_REVIEW) | Q(status=Article.Status.PUBLISHED, needs_attention=True)
        )


class Article(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        EXTRACTED = "extracted", _("Extracted")
        SUMMARIZING = "summarizing", _("Summarizing")
        IN_REVIEW = "in_review", _("In review")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    # The status machine. Anything not listed here raises IllegalTransition.
    TRANSITIONS: dict[str, frozenset[str]] = {
        # Each edge is taken by exactly one kind of actor; docs/pipeline.md says which.
        Status.NEW: frozenset({Status.EXTRACTED, Status.FAILED}),
        Status.EXTRACTED: frozenset({Status.SUMMARIZING}),
        Status.SUMMARIZING: frozenset({Status.IN_REVIEW, Status.EXTRACTED, Status.FAILED}),
        Status.IN_REVIEW: frozenset({Status.PUBLISHED, Status.REJECTED, Status.SUMMARIZING}),
        # A published article being regenerated stays published (claim: summarizing_since).
        Status.PUBLISHED: frozenset({Status.IN_REVIEW}),
        Status.REJECTED: frozenset({Status.SUMMARIZING}),
        Status.FAILED: frozenset({Status.NEW, Status.EXTRACTED}),
    }

    # Statuses of an article that has (or is getting) a summary of its own.
    SUMMARISED = frozenset({Status.SUMMARIZING, Status.IN_REVIEW, Status.PUBLISHED})

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="articles")
    url = models.URLField(_("canonical URL"), max_length=1000, unique=True, validators=[validate_http_url])
    guid = models.CharField(max_length=1000, blank=True)
    title = models.CharField(max_length=500)
    author = models.CharField(max_length=300, blank=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    fetched_at = models.DateTimeField(default=timezone.now)
    feed_summary = models.TextField(
        blank=True, help_text=_("The entry's summary/content from the feed, as text.")
    )
    extracted_text = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    read_time = models.PositiveSmallIntegerField(_("read time (minutes)"), default=0)
    language = models.CharField(max_length=16, blank=True)
    lead_image_url = models.URLField(max_length=1000, blank=True)
    slug = models.SlugField(max_length=220, unique=True, blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="articles")
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    # The story this article reports; set when the article is extracted (NULL while `new`).
    story = models.ForeignKey(
        Story, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    # An editor placed this article (moved or split it out): automatic grouping never moves it.
    story_locked = models.BooleanField(default=False)
    # Locality-sensitive fingerprint of the text (articles/stories/fingerprint.py), for copies.
    fingerprint = models.BinaryField(null=True, blank=True, editable=False)
    # Sentence vector of its title and lead, float32, when an embeddings backend is configured
    # (articles/stories/embeddings.py): fetched once, reused when it is grouped again.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    # The lead of its text that grouping made its vector from: the text's own, less the
    # sentences its source used in other recent articles (articles/stories/boilerplate.py).
    # Set for an original when it is grouped; NULL for a copy or an article grouped before
    # it was kept (its lead is then read from its text).
    grouping_lead = models.TextField(null=True, blank=True, editable=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW, db_index=True)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    summary_attempts = models.PositiveSmallIntegerField(default=0)
    # Set when an editor schedules publication; the publishing task acts on it.
    scheduled_for = models.DateTimeField(null=True, blank=True, db_index=True)
    published_on_site_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Last time a published summary was changed: readers see "corrected on DATE".
    corrected_at = models.DateTimeField(null=True, blank=True)
    # A reader reported a claim as wrong; the desk sees it in the review queue.
    needs_attention = models.BooleanField(default=False)
    # Claim token of a worker regenerating a *published* article: the status stays
    # `published` so readers keep the approved summary (docs/summaries.md), so the claim
    # cannot be the status. Set and cleared with conditional UPDATEs; the sweeper clears
    # it when the worker is lost.
    summarizing_since = models.DateTimeField(null=True, blank=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "guid"], condition=~Q(guid=""), name="article_unique_guid_per_source"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-published_on_site_at"]),
            models.Index(fields=["status", "status_changed_at"]),
        ]
        permissions = [
            ("approve_article", "Can approve, reject, schedule and regenerate summaries"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        if not (self.title or "").strip():
            raise ValidationError({"title": _("An article needs a title.")})
        if not self.slug:
            self.slug = unique_slug(Article, self.title, max_length=200)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = unique_slug(Article, self.title, max_length=200)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("article", args=[self.slug])

    def set_text(self, text: str) -> None:
        """Store extracted text with the numbers derived from it."""
        self.extracted_text = text
        self.word_count = count_words(text)
        self.read_time = read_time_minutes(self.word_count)
        self.content_hash = text_hash(text) if text.strip() else ""

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    def transition_to(
        self, status: str, *, reason: str = "", token: datetime | None = None, **changes: Any
    ) -> None:
        """The one door for a status change: move from the status read into this object to
        `status`, with one compare-and-set in the database.

        UPDATE … SET status, status_reason, status_changed_at = now, <changes>
        WHERE pk = … AND status = <the status read> [AND status_changed_at = <token>]

        `token` is a claim token (the status_changed_at a worker's claim wrote): a worker
        whose claim was released by the sweeper meanwhile cannot finish over the one that
        took over. Raises IllegalTransition when TRANSITIONS forbids the move and StaleState
        when the row no longer matches; either way nothing is written and this object is
        unchanged. On success this object holds what was written.
        """
        if status not in self.Status.values:
            raise IllegalTransition(f"Unknown status {status!r}.")
        if not self.can_transition_to(status):
            raise IllegalTransition(f"An article cannot go from {self.status!r} to {status!r}.")
        from_status = self.status
        values = {"status": status, "status_reason": reason, "status_changed_at": timezone.now(), **changes}
        expected: dict[str, Any] = {"status": from_status}
        if token is not None:
            expected["status_changed_at"] = token
        self._compare_and_set(expected, values)
        article_state_changed.send(sender=Article, article=self, from_status=from_status)

    def _compare_and_set(self, expected: dict[str, Any], values: dict[str, Any]) -> None:
        """UPDATE the row with `values` only where it still holds `expected`; then mirror the
        write in this object (expressions such as F("n") + 1 are read back)."""
        if not compare_and_set(self, Article.objects.filter(**expected), values):
            raise StaleState(
                f"Article {self.pk} changed since it was read (expected {expected}); nothing was written."
            )

    def publish(
        self,
        summary: Summary,
        *,
        by=None,
        automatic: bool = False,
        reason: str = "",
        clear_attention: bool = False,
    ) -> None:
        """Approve `summary` and put the article (back) on the site, with an audit entry.

        From in_review it is a guarded transition to published; on a published article it is
        a correction, written only where the article is still published. A first publication
        stamps published_on_site_at; a later one stamps corrected_at, which readers see as
        "corrected on DATE". Only the fields named here are written (never a full save), and
        the page cache is invalidated once the transaction commits. Raises StaleState when
        the article moved meanwhile.
        """
        now = timezone.now()
        from_status = self.status
        stamps: dict[str, Any] = {"scheduled_for": None}
        stamps["published_on_site_at" if self.published_on_site_at is None else "corrected_at"] = now
        if clear_attention:
            stamps["needs_attention"] = False
        with transaction.atomic():
            if from_status == self.Status.PUBLISHED:
                self._compare_and_set({"status": self.Status.PUBLISHED}, stamps)
                article_state_changed.send(sender=Article, article=self, from_status=from_status)
            else:
                self.transition_to(self.Status.PUBLISHED, reason=reason, **stamps)
            Summary.objects.filter(pk=summary.pk).update(approved_at=now, approved_by=by)
            summary.approved_at, summary.approved_by = now, by
            if self.story_id is not None:
                StoryUpdate.record_publication(story_id=self.story_id, summary=summary, article=self, at=now)
            AuditEntry.record(
                "publish",
                actor=by,
                article=self,
                target=summary,
                from_status=from_status,
                to_status=self.Status.PUBLISHED,
                reason=reason,
                automatic=automatic,
                version=summary.version,
            )

    def explain_status(self, reason: str) -> bool:
        """Say why the article waits where it is (budget pause, next batch) without moving it:
        written only while it still has the status read. False when it has moved on."""
        if not Article.objects.filter(pk=self.pk, status=self.status).update(status_reason=reason):
            return False
        self.status_reason = reason
        return True

    def claim_live_regenerate(self) -> datetime:
        """Claim a published article for a regenerate that keeps it on the site: its status
        stays `published`, so the claim token is `summarizing_since`, set only where it is
        NULL. Returns the token; raises StaleState when another worker holds the claim or
        the article left the site."""
        now = timezone.now()
        self._compare_and_set(
            {"status": self.Status.PUBLISHED, "summarizing_since__isnull": True},
            {"summarizing_since": now, "summary_attempts": models.F("summary_attempts") + 1},
        )
        return now

    def release_live_claim(self, token: datetime, **changes: Any) -> None:
        """Clear our own live-regenerate claim (same token) and write `changes` with it; raises
        StaleState when the claim is no longer ours (the sweeper released it)."""
        self._compare_and_set({"summarizing_since": token}, {"summarizing_since": None, **changes})

    @property
    def current_summary(self) -> Summary | None:
        """The latest approved version; None until an editor (or auto-publish) approves one."""
        return self.summaries.filter(approved_at__isnull=False).order_by("-version").first()

    @property
    def latest_summary(self) -> Summary | None:
        return self.summaries.order_by("-version").first()


class SummaryQuerySet(models.QuerySet["Summary"]):
    def approved(self) -> SummaryQuerySet:
        return self.filter(approved_at__isnull=False)


class Summary(models.Model):
    """One version of an article's summary. Versions are never overwritten: edits add one.

    key_points: [{"heading": "What happened", "text": ..., "evidence": [quote, ...]}, ×3]
    faq:        [{"question": ..., "answer": ..., "evidence": [quote, ...]}, ...]
    """

    class Kind(models.TextChoices):
        AI = "ai", _("AI model")
        EXTRACTIVE = "extractive", _("Extractive (offline)")
        EDITOR = "editor", _("Editor")

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="summaries")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key_takeaway = models.TextField()
    key_points = models.JSONField(default=list)
    faq = models.JSONField(default=list, blank=True)
    suggested_topics = models.JSONField(default=list, blank=True)
    # "claude-haiku-4-5", "extractive", or the editor's name for an edit.
    producer = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=32, blank=True)
    # Hash of (text, prompt version, model): the same input is never paid for twice.
    input_hash = models.CharField(max_length=64, blank=True, db_index=True)

    grounding_score = models.FloatField(default=1.0)
    unverified_claims = models.JSONField(default=list, blank=True)
    validation_warnings = models.JSONField(default=list, blank=True)
    # A story summary (written from several articles of one story) numbers the documents the
    # model saw: [{"n": 1, "article_id", "source", "url", "title"}, ...]; each key point and
    # FAQ row then carries "citations": [{"source": n, "quote": ..., "verified": bool}].
    # Empty for a summary written from its own article alone.
    sources = models.JSONField(default=list, blank=True)
    # Facts the sources report differently: [{"fact", "claims": [{"source": n, "says"}]}].
    disagreements = models.JSONField(default=list, blank=True)
    # Numbers, dates, amounts and names in the summary that no cited source contains
    # (summarizers/faithfulness.py): [{"field", "kind", "text"}].
    unverified_facts = models.JSONField(default=list, blank=True)
    # What this version adds to the story since the one before it, in one line ("Updated: …").
    update_line = models.CharField(max_length=300, blank=True)

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=0)

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    editor_note = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SummaryQuerySet.as_manager()

    class Meta:
        ordering = ["article", "-version"]
        verbose_name_plural = "summaries"
        constraints = [
            models.UniqueConstraint(fields=["article", "version"], name="summary_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.article} — v{self.version}"

    @property
    def is_flagged(self) -> bool:
        return (
            self.grounding_score < 1.0
            or bool(self.validation_warnings)
            or bool(self.unverified_facts)
            or bool(self.disagreements)
        )

    @property
    def checked_sources(self) -> int:
        """How many distinct sources the summary was checked against ("checked against N")."""
        return len({row.get("source") for row in self.sources}) if self.sources else 1

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if not (self.key_takeaway or "").strip():
            errors["key_takeaway"] = _("The key takeaway cannot be empty.")
        points = self.key_points if isinstance(self.key_points, list) else []
        if len(points) != 3:
            errors["key_points"] = _("A summary has exactly three key points.")
        elif [p.get("heading") for p in points] != list(KEY_POINT_HEADINGS):
            errors["key_points"] = _("Key points must be What happened, Why it matters, What to watch.")
        elif any(not str(p.get("text", "")).strip() for p in points):
            errors["key_points"] = _("Every key point needs text.")
        for row in self.faq or []:
            if not str(row.get("question", "")).strip() or not str(row.get("answer", "")).strip():
                errors["faq"] = _("Every FAQ row needs both a question and an answer.")
        if errors:
            raise ValidationError(errors)

    @classmethod
    def create_version(cls, *, article: Article, **fields: Any) -> Summary:
        """Add the next version for `article`, validated; never touches earlier versions.

        The article row is locked so two writers cannot claim the same version number.
        """
        with transaction.atomic():
            Article.objects.select_for_update().filter(pk=article.pk).first()
            last = cls.objects.filter(article=article).aggregate(m=models.Max("version"))["m"] or 0
            summary = cls(article=article, version=last + 1, **fields)
            summary.full_clean()
            summary.save()
        return summary


class ModelCall(models.Model):
    """Every paid call to a model, successful or not: the source of truth for spend."""

    article = models.ForeignKey(Article, null=True, on_delete=models.SET_NULL, related_name="model_calls")
    backend = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    outcome = models.CharField(max_length=32)  # ok, invalid-output, error, batch
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model} {self.outcome} ${self.cost_usd}"


class SummaryBatch(models.Model):
    """A Message Batches API job carrying a backlog of articles at half price."""

    batch_id = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=32, default="in_progress")
    article_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "summary batches"

    def __str__(self) -> str:
        return f"{self.batch_id} ({self.status})"

    def mark_ended(self) -> bool:
        """in_progress → ended, once: two overlapping polls never both close a batch."""
        now = timezone.now()
        if not SummaryBatch.objects.filter(pk=self.pk, status="in_progress").update(
            status="ended", finished_at=now
        ):
            return False
        self.status, self.finished_at = "ended", now
        return True


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def redact_personal_text(self, user: Any) -> int:
        """Take what `user` wrote out of the audit log when their account is deleted: the one
        change an audit entry ever gets.

        The log is append-only so that what happened cannot be rewritten later. But a reader's
        "this looks wrong" report copies their own words into it, and a person's deleted
        account must not leave their words behind (accounts.services.user_delete). So for
        every entry whose actor is `user` the actor is cleared, the reason emptied and every
        detail dropped except the facts in AuditEntry.FACT_DETAILS; details gain
        {"redacted": "account deleted"}. What happened, when, to which article or target and
        between which statuses stays, so the log still counts the report. Written with one
        UPDATE per batch (save() refuses changes). Idempotent; returns how many entries changed.
        """
        entries = list(self.filter(actor=user).only("pk", "details"))
        for entry in entries:
            kept = {key: value for key, value in entry.details.items() if key in AuditEntry.FACT_DETAILS}
            entry.actor, entry.reason, entry.details = None, "", {**kept, "redacted": "account deleted"}
        return self.model.objects.bulk_update(entries, ["actor", "reason", "details"], batch_size=500)


class AuditEntry(models.Model):
    """Append-only record of every transition and edit on the desk. Never edited or deleted,
    except that a deleted account's own words are taken out (`redact_personal_text`)."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # True when the system acted (auto-publish, sweeper, scheduled publish), not a person.
    automatic = models.BooleanField(default=False)
    action = models.CharField(max_length=64, db_index=True)
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    # For actions on other things (a comment, a user): its model label and primary key.
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    # Details that record facts the system produced (ids, versions, the summary's own claim),
    # never a person's words: the only ones redact_personal_text keeps.
    FACT_DETAILS = frozenset(
        {
            "version",
            "scheduled_for",
            "topics",
            "claim",
            "quoted_claim",
            "user_id",
            # Story decisions (articles/desk/stories.py): story and article ids.
            "from_story",
            "to_story",
            "articles",
            "story",
            "previous_lead",
            "lead",
            # Open questions (articles/stories/followups.py, articles/desk/questions.py): the
            # summary's own words and the match score.
            "question",
            "score",
        }
    )

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        who = self.actor or ("system" if self.automatic else "unknown")
        return f"{self.created_at:%Y-%m-%d %H:%M} {who}: {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError("Audit entries are append-only.")

    @classmethod
    def record(
        cls,
        action: str,
        *,
        actor=None,
        article: Article | None = None,
        target: models.Model | None = None,
        from_status: str = "",
        to_status: str = "",
        reason: str = "",
        automatic: bool = False,
        **details: Any,
    ) -> AuditEntry:
        return cls.objects.create(
            action=action,
            actor=actor if getattr(actor, "pk", None) else None,
            article=article,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            automatic=automatic,
            details=details,
        )


class CopyBand(models.Model):
    """One band of an article's fingerprint: articles sharing a band are candidate copies.
    Looked up by key within the grouping window, so the table is read by index only."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="copy_bands")
    key = models.BigIntegerField()
    published_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "published_at"])]

    def __str__(self) -> str:
        return f"{self.article_id}: {self.key}"


class StoryTerm(models.Model):
    """The terms that index a recent story for retrieval: a new article is compared only with
    stories sharing one of its terms and seen within the window, never with the archive."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="index_terms")
    term = models.CharField(max_length=64)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["story", "term"], name="story_term_unique")]
        indexes = [models.Index(fields=["term", "last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.story_id}: {self.term}"


class TermCount(models.Model):
    """How many grouped articles contain each term (document frequency, for TF-IDF). The row
    with the empty term counts the articles themselves."""

    term = models.CharField(max_length=64, primary_key=True)
    documents = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.term}: {self.documents}"


class RecentTerm(models.Model):
    """A term of a grouped original with the article's publication time (the empty term: the
    article itself). TermCount minus the rows published since a moment gives the document
    frequencies of the articles published before it (grouping.IDF_LAG); pruned with the
    other grouping index rows."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="recent_terms")
    term = models.CharField(max_length=64)
    published_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["term", "published_at"])]

    def __str__(self) -> str:
        return f"{self.article_id}: {self.term}"


class SourceSentence(models.Model):
    """A sentence at the start of a grouped original's text (its key:
    articles/stories/boilerplate.py), with the article's source and publication time. A
    sentence its source used in another original within the window is the site's own
    repeated text, left out of the lead grouping reads. Looked up by source and key within
    the window, so the table is read by index only; pruned with the other grouping index
    rows."""

    # The index below leads with the source: no index of its own.
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", db_index=False)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="source_sentences")
    key = models.BigIntegerField()
    published_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["source", "key", "published_at"])]

    def __str__(self) -> str:
        return f"{self.source_id}: {self.key}"


class EmbeddingCount(models.Model):
    """How many grouped originals were embedded with vectors of `dimensions` dimensions, and
    the sum of those vectors (float64): their mean is what all news has in common, which
    grouping subtracts before comparing (articles/stories/grouping.py). One row per dimension,
    so a new model starts its own count."""

    dimensions = models.PositiveIntegerField(primary_key=True)
    articles = models.PositiveIntegerField(default=0)
    total = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.dimensions} dimensions: {self.articles} articles"


def unique_slug(model: type[models.Model], text: str, *, max_length: int = 200) -> str:
    """A slug for `text` not yet used by `model`: "title", then "title-2", "title-3"..."""
    base = slugify(text)[:max_length].strip("-") or "item"
    taken = set(
        model.objects.filter(slug__startswith=base).values_list("slug", flat=True)  # type: ignore[attr-defined]
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
