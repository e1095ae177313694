"""The editorial desk in the Django admin: the review queue and screen, bulk actions, the
desk home, stories (their page, the per-story review queue and the editors' decisions),
topics and the append-only audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from articles.ingest.tasks import extract_article
from articles.models import Article, AuditEntry, ModelCall, OpenQuestion, Story, Summary, Topic
from articles.summarizers.grounding import normalise
from articles.summarizers.tasks import refresh_story_summary, summarize_article

from . import checks, evidence, overview, permissions, questions, services, stories
from .forms import DeskActionForm, QuestionDecisionForm, ReviewForm, StoryDecisionForm, StoryMergeForm
from .versions import SummaryEdit, summary_diff


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


class ReviewStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to the review queue: opening Articles is opening the desk's queue."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.ALL, "All"), *Article.Status.choices]

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        # An action posted without a status in the URL acts on exactly the rows selected,
        # whatever their status; the default only decides what the list shows.
        self.default = (
            None if request.method == "POST" and "action" in request.POST else Article.Status.IN_REVIEW
        )

    def value(self) -> str | None:
        return super().value() or self.default

    def choices(self, changelist: Any):
        # No built-in "All" (it would mean the default, in review); ours is an explicit value.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in (self.ALL, None):
            return queryset
        if self.value() == Article.Status.IN_REVIEW:
            # The queue also holds live articles with a regenerated version or a reader
            # report waiting: they stay published while an editor looks (docs/desk.md).
            return queryset.filter(pk__in=Article.objects.awaiting_review().values("pk"))
        return queryset.filter(status=self.value())


class FlagFilter(admin.SimpleListFilter):
    title = "flag"
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("flagged", "Grounding flagged"),
            ("grounded", "Fully grounded"),
            ("reported", "Reader reported a claim"),
            ("scheduled", "Scheduled"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        match self.value():
            case "flagged":
                return queryset.filter(latest_flagged=True)
            case "grounded":
                return queryset.filter(latest_flagged=False, latest_version__isnull=False)
            case "reported":
                return queryset.filter(needs_attention=True)
            case "scheduled":
                return queryset.filter(scheduled_for__isnull=False)
        return queryset


def _latest(field: str) -> Subquery:
    latest = Summary.objects.filter(article=OuterRef("pk")).order_by("-version")
    return Subquery(latest.values(field)[:1])


def _queue_after_retry(article_id: int, status: str) -> None:
    """A retried article with text goes to summarising, one without to extraction."""
    if status == Article.Status.EXTRACTED:
        summarize_article.delay_on_commit(article_id)
    else:
        extract_article.delay_on_commit(article_id)


def _queue_story_summaries(decisions: list[stories.StoryDecision]) -> None:
    """Once an editor's story decisions commit, their stories' summaries follow, as the
    pipeline's do when a report joins a story (articles/stories/tasks.py: group_article): a
    lead without a summary is summarised, any other story whose articles changed has its
    summary weighed again after STORY_UPDATE_DELAY_SECONDS, so a series of decisions costs one
    rewrite. The rewrite keeps the usual rules: it waits for an editor (or auto-publishes) and
    tells readers what changed only if something did. Each story is queued once."""
    for article_id in dict.fromkeys(pk for decision in decisions for pk in decision.summarize):
        summarize_article.delay_on_commit(article_id)
    for story_id in dict.fromkeys(pk for decision in decisions for pk in decision.refresh):
        refresh_story_summary.apply_async_on_commit(
            (story_id,), countdown=settings.STORY_UPDATE_DELAY_SECONDS
        )


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """The review queue (changelist) and the review screen (change view) of the desk."""

    list_display = [
        "title_link",
        "source",
        "status",
        "age",
        "grounding",
        "cost",
        "producer",
        "reader_report",
        "scheduled_for",
    ]
    list_display_links = None
    list_filter = [ReviewStatusFilter, "source", "topics", FlagFilter]
    search_fields = ["title"]
    list_select_related = ["source"]
    list_per_page = 50
    # The queue is oldest first: whoever has waited longest is read first.
    ordering = ["status_changed_at", "pk"]
    action_form = DeskActionForm
    actions = ["approve_selected", "reject_selected", "regenerate_selected", "retry_selected"]
    review_template = "admin/articles/article/review.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        flagged = Summary.objects.filter(article=OuterRef("pk"), version=OuterRef("latest_version")).filter(
            Q(grounding_score__lt=1.0) | ~Q(validation_warnings=[])
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_version=_latest("version"),
                latest_grounding=_latest("grounding_score"),
                latest_producer=_latest("producer"),
                # Every paid call counts, failed and retried ones too: ModelCall is the spend ledger.
                cost_total=Subquery(
                    ModelCall.objects.filter(article=OuterRef("pk"))
                    .order_by()
                    .values("article")
                    .annotate(s=Sum("cost_usd"))
                    .values("s")[:1]
                ),
            )
            .annotate(latest_flagged=Exists(flagged))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # articles arrive from sources, never typed in

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rejected articles stay, with their audit trail

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return permissions.can_approve(request.user)

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ) -> dict:
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    # --- queue columns ------------------------------------------------------------------

    @admin.display(description="title", ordering="title")
    def title_link(self, obj: Article) -> str:
        url = reverse("admin:articles_article_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.title)

    @admin.display(description="waiting", ordering="status_changed_at")
    def age(self, obj: Article) -> str:
        return timesince(obj.status_changed_at)

    @admin.display(description="grounding", ordering="latest_grounding")
    def grounding(self, obj: Article) -> str:
        if obj.latest_grounding is None:
            return "—"
        if obj.latest_flagged:
            return format_html('<span class="desk-flag">⚑ {}</span>', f"{obj.latest_grounding:.2f}")
        return f"{obj.latest_grounding:.2f}"

    @admin.display(description="cost (USD)", ordering="cost_total")
    def cost(self, obj: Article) -> str:
        return f"{obj.cost_total or 0:.4f}"

    @admin.display(description="producer", ordering="latest_producer")
    def producer(self, obj: Article) -> str:
        return obj.latest_producer or "—"

    @admin.display(description="reader report", ordering="needs_attention")
    def reader_report(self, obj: Article) -> str:
        # Only the exception is marked: a column of red crosses would hide the one that matters.
        return format_html('<span class="desk-flag">{}</span>', "⚑ reported") if obj.needs_attention else ""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {"title": "Review queue", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    # --- bulk actions ---------------------------------------------------------------------

    def _report(self, request: HttpRequest, verb: str, result: services.BulkResult) -> None:
        if result.done:
            self.message_user(request, f"{verb} {len(result.done)} article(s).", messages.SUCCESS)
        for article, why in result.skipped:
            self.message_user(request, f"Skipped “{article.title}”: {why}.", messages.WARNING)

    @admin.action(description="Approve and publish selected (skips flagged)", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        result = services.articles_approve_bulk(articles=queryset.order_by("pk"), editor=request.user)
        self._report(request, "Approved and published", result)

    @admin.action(description="Reject selected (give one reason)", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Nothing rejected: a rejection needs a reason.", messages.ERROR)
            return
        result = services.articles_reject_bulk(
            articles=queryset.order_by("pk"), editor=request.user, reason=reason
        )
        self._report(request, "Rejected", result)

    @admin.action(description="Regenerate selected (optional note to the model)", permissions=["approve"])
    def regenerate_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        note = request.POST.get("note", "").strip()
        result = services.articles_regenerate_bulk(
            articles=queryset.order_by("pk"), editor=request.user, note=note
        )
        for article in result.done:
            summarize_article.delay_on_commit(article.pk, note=note, force=True)
        self._report(request, "Queued for regeneration", result)

    @admin.action(description="Retry selected failed articles", permissions=["approve"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        result = services.articles_retry_bulk(articles=queryset.order_by("pk"), editor=request.user)
        for article in result.done:
            _queue_after_retry(article.pk, result.outcomes[article.pk])
        self._report(request, "Sent back through the pipeline", result)

    # --- review screen ----------------------------------------------------------------------

    def get_urls(self) -> list:
        urls = super().get_urls()
        retry = path(
            "<path:object_id>/retry/",
            self.admin_site.admin_view(self.retry_view),
            name="articles_article_retry",
        )
        return [retry, *urls]

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not permissions.can_approve(request.user):
            raise PermissionDenied
        article = get_object_or_404(Article, pk=object_id)
        try:
            status = services.article_retry(article=article, editor=request.user)
        except services.DeskError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            _queue_after_retry(article.pk, status)
            self.message_user(request, f"“{article.title}” was sent back through the pipeline.")
        return redirect("admin:index")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The review screen replaces the stock change form; every POST is checked here."""
        article = get_object_or_404(Article.objects.select_related("source", "story"), pk=object_id)
        if not self.has_view_or_change_permission(request, article):
            raise PermissionDenied
        latest = article.latest_summary
        conflict: services.StaleVersion | None = None
        if request.method == "POST":
            form = ReviewForm(request.POST)
            action = request.POST.get("action", "")
            allowed = (
                permissions.can_edit_desk(request.user)
                if action == "save"
                else permissions.can_approve(request.user)
            )
            if not allowed:
                raise PermissionDenied
            if form.is_valid():
                try:
                    return self._perform(request, article, form)
                except services.StaleVersion as exc:
                    conflict = exc
                    form.add_error(None, str(exc))
                    form.rebase(exc.current.version if exc.current else 0)
                except services.DeskError as exc:
                    form.add_error(None, str(exc))
                except ValidationError as exc:
                    for message in exc.messages:
                        form.add_error(None, message)
        else:
            form = ReviewForm(initial=ReviewForm.initial_for(latest, article.topics.all()))
        return self._render_review(request, article, form, conflict=conflict)

    def _perform(self, request: HttpRequest, article: Article, form: ReviewForm) -> HttpResponse:
        data = form.cleaned_data
        action, based_on, user = data["action"], data.get("based_on_version"), request.user
        here = reverse("admin:articles_article_change", args=[article.pk])
        queue = reverse("admin:articles_article_changelist")
        if action == "approve":
            summary = services.article_approve(
                article=article,
                editor=user,
                based_on_version=based_on,
                edit=form.edit(),
                topics=data["topics"],
            )
            self.message_user(request, f"Published “{article.title}” (version {summary.version}).")
            return redirect(queue)
        if action == "save":
            summary = services.summary_save_draft(
                article=article,
                editor=user,
                based_on_version=based_on,
                edit=form.edit(),
                topics=data["topics"],
            )
            self.message_user(request, f"Draft saved as version {summary.version if summary else '—'}.")
            return redirect(here)
        if action == "schedule":
            summary = services.article_schedule(
                article=article,
                editor=user,
                when=data["schedule_at"],
                based_on_version=based_on,
                edit=form.edit(),
                topics=data["topics"],
            )
            self.message_user(
                request, f"Scheduled version {summary.version} for {data['schedule_at']:%Y-%m-%d %H:%M} UTC."
            )
            return redirect(queue)
        if action == "reject":
            services.article_reject(article=article, editor=user, reason=data["reason"])
            self.message_user(request, f"Rejected “{article.title}”.")
            return redirect(queue)
        if action == "regenerate":
            services.article_regenerate(article=article, editor=user, note=data["note"])
            summarize_article.delay_on_commit(article.pk, note=data["note"].strip(), force=True)
            self.message_user(request, f"A new AI version of “{article.title}” is being written.")
            return redirect(queue)
        # restore
        summary = services.summary_restore(
            article=article, editor=user, version=data["restore_version"], based_on_version=based_on
        )
        self.message_user(
            request, f"Restored version {data['restore_version']} as version {summary.version}."
        )
        return redirect(here)

    def _render_review(
        self,
        request: HttpRequest,
        article: Article,
        form: ReviewForm,
        *,
        conflict: services.StaleVersion | None = None,
    ) -> HttpResponse:
        text = evidence.source_text(article)
        haystack = normalise(text)
        versions = list(article.summaries.select_related("created_by", "approved_by").order_by("-version"))
        latest = versions[0] if versions else None
        machine = next((v for v in versions if v.kind != Summary.Kind.EDITOR), None)
        score, unverified = (
            evidence.grounding_of(text, SummaryEdit.of(latest).as_fields()) if latest else (1.0, [])
        )
        reports = [
            # comments/services.py records the claim's text as quoted_claim and the reader's words as comment.
            (
                entry,
                entry.details.get("quoted_claim") or entry.details.get("claim", ""),
                entry.details.get("comment", ""),
            )
            for entry in article.audit_entries.filter(action="claim.reported")[:20]
        ]
        key_points = []
        if latest:
            for (heading, text_field, evidence_field), point in zip(
                form.key_point_rows(), list(latest.key_points) + [{}] * 3, strict=False
            ):
                quotes = point.get("evidence") or []
                found = evidence.claim_verified(haystack, quotes)
                key_points.append((heading, text_field, evidence_field, found))
        else:
            key_points = [(*row, False) for row in form.key_point_rows()]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review: {article.title}",
            "opts": self.opts,
            "original": article,
            "article": article,
            "form": form,
            "faq_formset": form.faq,
            "key_points": key_points,
            "latest": latest,
            "versions": versions,
            "machine_version": machine,
            "ai_diff": summary_diff(machine, latest) if machine and latest and machine != latest else [],
            "conflict": conflict,
            "conflict_diff": summary_diff(conflict.based_on, conflict.current) if conflict else [],
            "source_text": evidence.highlight_evidence(
                text,
                evidence.evidence_quotes(SummaryEdit.of(latest).as_fields()) if latest else [],
            ),
            "unverified": [evidence.claim_text(c) for c in (latest.unverified_claims or unverified)]
            if latest
            else [],
            "grounding_score": latest.grounding_score if latest else None,
            "checks": checks.summary_checks(latest),
            "reports": reports,
            "audit_entries": article.audit_entries.select_related("actor")[:50],
            "can_approve": permissions.can_approve(request.user),
            "can_edit": permissions.can_edit_desk(request.user),
            "sources_url": reverse("admin:articles_source_changelist"),
            "audit_url": reverse("admin:articles_auditentry_changelist")
            + f"?article__id__exact={article.pk}",
        }
        return TemplateResponse(request, self.review_template, context, status=409 if conflict else 200)


class StoryReviewFilter(admin.SimpleListFilter):
    """ "Awaiting review": the review queue with one row per story."""

    title = "review"
    parameter_name = "review"
    WAITING = "waiting"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.WAITING, "Awaiting review")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.WAITING:
            return queryset.filter(waiting_count__gt=0)
        return queryset


class MergedFilter(admin.SimpleListFilter):
    """Stories merged away are empty pointers: hidden unless asked for."""

    title = "merged"
    parameter_name = "merged"
    OPEN, MERGED, ALL = "no", "yes", "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.OPEN, "Not merged"), (self.MERGED, "Merged into another"), (self.ALL, "All")]

    def value(self) -> str:
        return super().value() or self.OPEN

    def choices(self, changelist: Any):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.MERGED:
            return queryset.filter(merged_into__isnull=False)
        if self.value() == self.ALL:
            return queryset
        return queryset.filter(merged_into__isnull=True)


# Every decision an editor takes about stories (articles/desk/stories.py), by audit action.
STORY_ACTIONS = ("story_merge", "article_move", "article_split", "story_set_lead")


def _story_queue_url(story_id: int) -> str:
    """The per-article review queue, narrowed to one story's waiting articles."""
    return reverse("admin:articles_article_changelist") + f"?story__id__exact={story_id}"


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    """Stories on the desk: the list (with "Awaiting review", the review queue by story), a
    page per story with its articles, and the editors' decisions (merge, move, split, lead),
    each one call to articles/desk/stories.py."""

    list_display = [
        "title",
        "sources",
        "article_count",
        "waiting",
        "first_seen_at",
        "last_seen_at",
        "editor_locked",
    ]
    list_filter = [StoryReviewFilter, MergedFilter, "editor_locked"]
    search_fields = ["title"]
    list_per_page = 50
    ordering = ["-last_seen_at", "-pk"]
    actions = ["merge_selected"]
    detail_template = "admin/articles/story/detail.html"
    merge_template = "admin/articles/story/merge.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        waiting = Article.objects.awaiting_review().filter(story=OuterRef("pk")).order_by().values("story")
        members = (
            Article.objects.order_by("source__name").select_related("source").only("story", "source__name")
        )
        # Not super(): it orders before these annotations exist, and the per-story queue is
        # ordered by one of them.
        return (
            Story.objects.annotate(
                waiting_count=Coalesce(Subquery(waiting.annotate(n=Count("pk")).values("n")[:1]), 0),
                oldest_waiting=Subquery(waiting.annotate(t=Min("status_changed_at")).values("t")[:1]),
            )
            .prefetch_related(Prefetch("articles", queryset=members, to_attr="members"))
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request: HttpRequest) -> list[str]:
        if request.GET.get(StoryReviewFilter.parameter_name) == StoryReviewFilter.WAITING:
            return ["oldest_waiting", "pk"]  # like the article queue: longest waiting first
        return self.ordering

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Titles, and a story's number ("1234" or "#1234"): editors pick stories by number."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = search_term.strip().removeprefix("#")
        if number.isdigit():
            results |= queryset.filter(pk=int(number))
        return results, may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # stories come from grouping, and from editors splitting articles out

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # no stock form: every change is a decision on the story page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a story is merged away, never deleted: its URL must keep working

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return permissions.can_approve(request.user)

    @admin.display(description="sources")
    def sources(self, obj: Story) -> str:
        return ", ".join(dict.fromkeys(a.source.name for a in obj.members))

    @admin.display(description="awaiting review", ordering="waiting_count")
    def waiting(self, obj: Story) -> str:
        if not obj.waiting_count:
            return "—"
        return format_html('<a href="{}">{} waiting</a>', _story_queue_url(obj.pk), obj.waiting_count)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        waiting = request.GET.get(StoryReviewFilter.parameter_name) == StoryReviewFilter.WAITING
        extra_context = {
            "title": "Stories awaiting review" if waiting else "Stories",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    @admin.action(
        description="Merge selected stories into one (choose which to keep)", permissions=["approve"]
    )
    def merge_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        selected = list(queryset.order_by("-article_count", "pk"))
        if len(selected) < 2:
            self.message_user(request, "Select at least two stories to merge.", messages.ERROR)
            return None
        form = StoryMergeForm(request.POST if "into" in request.POST else None, stories=selected)
        if not form.is_valid():
            return TemplateResponse(
                request,
                self.merge_template,
                {
                    **self.admin_site.each_context(request),
                    "title": "Merge stories",
                    "opts": self.opts,
                    "form": form,
                    "stories": selected,
                    "action": request.POST.get("action"),
                    "selected": [s.pk for s in selected],
                },
            )
        into, reason = form.cleaned_data["into"], form.cleaned_data["reason"].strip()
        decisions = []
        for story in selected:
            if story.pk == into.pk:
                continue
            try:
                decisions.append(stories.story_merge(story=story, into=into, by=request.user, reason=reason))
            except services.DeskError as exc:
                self.message_user(request, f"Not merged: “{story.title}”: {exc}", messages.WARNING)
        _queue_story_summaries(decisions)
        if merged := len(decisions):
            self.message_user(request, f"Merged {merged} story(ies) into “{into.title}”.", messages.SUCCESS)
        return redirect("admin:articles_story_change", into.pk)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The story page replaces the stock change form; every POST is one decision."""
        story = get_object_or_404(Story.objects.select_related("lead", "merged_into"), pk=object_id)
        if not self.has_view_or_change_permission(request, story):
            raise PermissionDenied
        if request.method == "POST":
            if not permissions.can_approve(request.user):
                raise PermissionDenied
            form = StoryDecisionForm(request.POST, story=story, admin_site=self.admin_site)
            if form.is_valid():
                try:
                    return self._decide(request, story, form)
                except services.DeskError as exc:
                    form.add_error(None, str(exc))
        else:
            form = StoryDecisionForm(story=story, admin_site=self.admin_site)
        return self._render_story(request, story, form)

    def _decide(self, request: HttpRequest, story: Story, form: StoryDecisionForm) -> HttpResponse:
        data = form.cleaned_data
        action, article, target = data["action"], data["article"], data["target"]
        by, reason = request.user, data["reason"].strip()
        if action == "lead":
            stories.story_set_lead(story=story, article=article, by=by, reason=reason)
            self.message_user(request, f"“{article.title}” now leads the story.")
        elif action == "split":
            decision = stories.article_split(article=article, by=by, reason=reason)
            _queue_story_summaries([decision])
            self.message_user(
                request,
                format_html(
                    '“{}” now has <a href="{}">a story of its own</a>.',
                    article.title,
                    reverse("admin:articles_story_change", args=[decision.story.pk]),
                ),
            )
        elif action == "move":
            _queue_story_summaries(
                [stories.article_move(article=article, story=target, by=by, reason=reason)]
            )
            self.message_user(
                request,
                format_html(
                    '“{}” moved to <a href="{}">{}</a>.',
                    article.title,
                    reverse("admin:articles_story_change", args=[target.pk]),
                    target.title,
                ),
            )
        else:
            decision = stories.story_merge(story=story, into=target, by=by, reason=reason)
            _queue_story_summaries([decision])
            self.message_user(request, f"“{story.title}” was merged into this story.")
            return redirect("admin:articles_story_change", decision.story.pk)
        return redirect("admin:articles_story_change", story.pk)

    def _render_story(self, request: HttpRequest, story: Story, form: StoryDecisionForm) -> HttpResponse:
        articles = list(
            story.articles.select_related("source", "duplicate_of").order_by("published_at", "pk")
        )
        decisions = AuditEntry.objects.filter(
            Q(target_type=Story._meta.label_lower, target_id=str(story.pk))
            | Q(action__in=STORY_ACTIONS, details__from_story=story.pk)
            | Q(action__in=QUESTION_ACTIONS, details__story=story.pk)
        ).select_related("actor", "article")
        lead = next((a for a in articles if a.pk == story.lead_id), None)
        story_summary = lead.summaries.order_by("-version").first() if lead is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Story: {story.title}",
            "opts": self.opts,
            "original": story,
            "story": story,
            "articles": articles,
            "waiting_ids": set(story.articles.awaiting_review().values_list("pk", flat=True)),
            "queue_url": _story_queue_url(story.pk),
            "form": form,
            "media": self.media + form.media,
            "audit_entries": decisions[:50],
            "can_approve": permissions.can_approve(request.user),
            "story_summary": story_summary,
            "checks": checks.summary_checks(story_summary),
            "questions": _questions(OpenQuestion.objects.filter(story=story)),
            "followed_up": _questions(
                OpenQuestion.objects.filter(answer_story=story).exclude(story=story), of_story=True
            ),
        }
        return TemplateResponse(request, self.detail_template, context)


# What the story page lists first: what waits for an editor.
_QUESTION_ORDER = [
    OpenQuestion.Status.PROPOSED,
    OpenQuestion.Status.OPEN,
    OpenQuestion.Status.ACCEPTED,
    OpenQuestion.Status.DISMISSED,
]


def _questions(rows: QuerySet, *, of_story: bool = False) -> list[OpenQuestion]:
    """Questions for the story page, those waiting for an editor first; one query."""
    related = ["answer_article__source", "answer_story", "decided_by"] + (["story"] if of_story else [])
    found = list(rows.select_related(*related).order_by("-created_at", "-pk")[:100])
    return sorted(found, key=lambda q: _QUESTION_ORDER.index(q.status))


# Every change to an open question, by audit action (articles/stories/followups.py and
# articles/desk/questions.py).
QUESTION_ACTIONS = (
    "question_propose",
    "question_replace",
    "question_reopen",
    *questions.DECISIONS,
)
QUESTION_DECISIONS = {
    "accept": questions.question_accept,
    "reject": questions.question_reject,
    "dismiss": questions.question_dismiss,
}


class QuestionStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to proposals: opening Follow-ups is opening what waits for an editor."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.ALL, "All"), *OpenQuestion.Status.choices]

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        # An action posted without a status in the URL acts on exactly the rows selected.
        self.default = (
            None if request.method == "POST" and "action" in request.POST else OpenQuestion.Status.PROPOSED
        )

    def value(self) -> str | None:
        return super().value() or self.default

    def choices(self, changelist: Any):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in (self.ALL, None):
            return queryset
        return queryset.filter(status=self.value())


@admin.register(OpenQuestion)
class OpenQuestionAdmin(admin.ModelAdmin):
    """Follow-ups on the desk: the open "What to watch" questions of stories, and the reports
    grouping proposed as their answers, proposals first. Editors accept, reject or dismiss
    here (actions) or on the story page; each is one call to articles/desk/questions.py."""

    list_display = [
        "question",
        "story_link",
        "status",
        "proposed_answer",
        "score",
        "created_at",
        "decided_by",
    ]
    list_display_links = None
    list_filter = [QuestionStatusFilter]
    search_fields = ["text", "story__title"]
    list_select_related = ["story", "answer_article__source", "answer_story", "decided_by"]
    list_per_page = 50
    ordering = ["-status_changed_at", "-pk"]
    actions = ["accept_selected", "reject_selected", "dismiss_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # questions come from published summaries

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # every change is a decision (accept, reject, dismiss)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # closed, never deleted: the audit log names them

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return permissions.can_approve(request.user)

    @admin.display(description="question", ordering="text")
    def question(self, obj: OpenQuestion) -> str:
        return obj.text

    @admin.display(description="story", ordering="story__title")
    def story_link(self, obj: OpenQuestion) -> str:
        url = reverse("admin:articles_story_change", args=[obj.story_id])
        return format_html('<a href="{}">{}</a>', url, obj.story.title)

    @admin.display(description="proposed answer")
    def proposed_answer(self, obj: OpenQuestion) -> str:
        if obj.answer_article is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a> <span class="quiet">({})</span>',
            reverse("admin:articles_article_change", args=[obj.answer_article_id]),
            obj.answer_article.title,
            obj.answer_article.source.name,
        )

    @admin.display(description="match", ordering="answer_score")
    def score(self, obj: OpenQuestion) -> str:
        return f"{obj.answer_score:.2f}" if obj.answer_article_id else "—"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {"title": "Follow-ups", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def _decide_each(self, request: HttpRequest, queryset: QuerySet, decision: str, verb: str) -> None:
        done = 0
        for question in queryset.order_by("pk"):
            try:
                QUESTION_DECISIONS[decision](question=question, by=request.user)
            except services.DeskError as exc:
                self.message_user(request, f"Skipped “{question}”: {exc}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} question(s).", messages.SUCCESS)

    @admin.action(description="Accept the proposed answers", permissions=["approve"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "accept", "Accepted the answers of")

    @admin.action(
        description="Reject the proposed answers (the questions stay open)", permissions=["approve"]
    )
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "reject", "Rejected the answers of")

    @admin.action(description="Dismiss the selected questions", permissions=["approve"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "dismiss", "Dismissed")

    def get_urls(self) -> list:
        decide = path(
            "<path:object_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name="articles_openquestion_decide",
        )
        return [decide, *super().get_urls()]

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One decision posted from the story page; back to that page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not permissions.can_approve(request.user):
            raise PermissionDenied
        question = get_object_or_404(OpenQuestion, pk=object_id)
        form = QuestionDecisionForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Nothing changed: choose accept, reject or dismiss.", messages.ERROR)
        else:
            data = form.cleaned_data
            try:
                QUESTION_DECISIONS[data["decision"]](
                    question=question,
                    by=request.user,
                    reason=data["reason"].strip(),
                    answer_article_id=data["answer"],
                )
            except services.DeskError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"“{question}”: {question.get_status_display().lower()}.")
        return redirect("admin:articles_story_change", question.story_id)


@admin.register(Summary)
class SummaryAdmin(admin.ModelAdmin):
    """Versions are history: shown, never edited in place (the review screen adds new ones)."""

    list_display = ["article", "version", "kind", "producer", "grounding_score", "cost_usd", "approved_at"]
    list_filter = ["kind"]
    search_fields = ["article__title"]
    list_select_related = ["article"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_stock_index = admin.site.index


def desk_index(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin index with the desk home on top, for staff who may see articles."""
    extra_context = dict(extra_context or {})
    if request.user.has_perm("articles.view_article"):
        extra_context["desk"] = overview.desk_overview()
        extra_context["desk_can_approve"] = permissions.can_approve(request.user)
    return _stock_index(request, extra_context)


# The default site stays the site (other apps register on it); only its index gains the desk.
# get_urls() looks up self.index when the URLs are built, after every admin module loaded.
admin.site.index = desk_index
admin.site.site_header = f"{settings.SITE_NAME} desk"
admin.site.site_title = f"{settings.SITE_NAME} desk"
admin.site.index_title = "Desk"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor",
        "automatic",
        "action",
        "article_link",
        "from_status",
        "to_status",
        "reason",
    ]
    list_filter = ["action", "automatic", "to_status", ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["article__title", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "article"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    @admin.display(description="article")
    def article_link(self, obj: AuditEntry) -> str:
        if obj.article is None:
            return "—"
        url = reverse("admin:articles_article_change", args=[obj.article_id])
        return format_html('<a href="{}">{}</a>', url, obj.article.title)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
