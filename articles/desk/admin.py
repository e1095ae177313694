"""The editorial desk in the Django admin: the review queue and screen, bulk actions, the
desk home, topics and the append-only audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from articles.ingest.tasks import extract_article
from articles.models import Article, AuditEntry, ModelCall, Summary, Topic
from articles.summarizers.grounding import normalise
from articles.summarizers.tasks import summarize_article

from . import evidence, overview, permissions, services
from .forms import DeskActionForm, ReviewForm
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

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
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
        article = get_object_or_404(Article.objects.select_related("source"), pk=object_id)
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
            "reports": reports,
            "audit_entries": article.audit_entries.select_related("actor")[:50],
            "can_approve": permissions.can_approve(request.user),
            "can_edit": permissions.can_edit_desk(request.user),
            "sources_url": reverse("admin:articles_source_changelist"),
            "audit_url": reverse("admin:articles_auditentry_changelist")
            + f"?article__id__exact={article.pk}",
        }
        return TemplateResponse(request, self.review_template, context, status=409 if conflict else 200)


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
