"""The editorial desk in the Django admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from .models import Article, AuditEntry, FetchAttempt, ModelCall, Source, Summary, SummaryBatch, Topic

# ======================================================================================
# Topics
# ======================================================================================


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


# ======================================================================================
# Sources and fetch attempts (ingestion)
# ======================================================================================


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "feed_url",
        "is_active",
        "last_fetched_at",
        "consecutive_failures",
        "last_error_class",
    ]
    list_filter = ["is_active", "topics"]
    search_fields = ["name", "feed_url"]


@admin.register(FetchAttempt)
class FetchAttemptAdmin(admin.ModelAdmin):
    list_display = ["source", "started_at", "outcome", "http_status", "error_class", "entries_new"]
    list_filter = ["outcome", "error_class"]
    list_select_related = ["source"]


# ======================================================================================
# Articles, summaries and the review desk
# ======================================================================================


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "status", "published_at"]
    list_filter = ["status", "source"]
    search_fields = ["title"]
    list_select_related = ["source"]


@admin.register(Summary)
class SummaryAdmin(admin.ModelAdmin):
    list_display = ["article", "version", "kind", "producer", "grounding_score", "approved_at"]
    list_select_related = ["article"]


# ======================================================================================
# Model calls and batches (summaries)
# ======================================================================================


def _budget_message(request) -> None:
    from articles.summarizers.budget import budget_exhausted, budget_status

    level = messages.WARNING if budget_exhausted() else messages.INFO
    messages.add_message(request, level, budget_status())


@admin.register(ModelCall)
class ModelCallAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "article",
        "backend",
        "model",
        "outcome",
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "cost_usd",
    ]
    list_filter = ["outcome", "backend", "model"]
    list_select_related = ["article"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False  # spend records come from real calls only

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        _budget_message(request)  # says why summarising is paused, where spend is looked at
        return super().changelist_view(request, extra_context)


@admin.register(SummaryBatch)
class SummaryBatchAdmin(admin.ModelAdmin):
    list_display = ["batch_id", "status", "article_count", "created_at", "finished_at"]
    list_filter = ["status"]

    @admin.display(description="articles")
    def article_count(self, obj: SummaryBatch) -> int:
        return len(obj.article_ids or [])


@admin.action(description="Retry the summary of selected failed articles", permissions=["change"])
def retry_failed_summaries(modeladmin, request, queryset) -> None:
    from articles.summarizers.services import article_retry_failed
    from articles.tasks import summarize_article

    retried = 0
    for article in queryset.filter(status=Article.Status.FAILED):
        if article_retry_failed(article=article):
            transaction.on_commit(lambda pk=article.pk: summarize_article.delay(pk))
            retried += 1
    modeladmin.message_user(request, f"{retried} failed article(s) queued for a new summary.")


# The action belongs on the article list, which the desk section above owns; attaching it
# here keeps this section self-contained and the merge free of conflicts.
ArticleAdmin.actions = [*(ArticleAdmin.actions or []), retry_failed_summaries]


# ======================================================================================
# Audit log (append-only)
# ======================================================================================


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "automatic", "action", "article", "from_status", "to_status"]
    list_filter = ["action", "automatic"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
