"""The editorial desk in the Django admin."""

from __future__ import annotations

from django.contrib import admin

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


@admin.register(ModelCall)
class ModelCallAdmin(admin.ModelAdmin):
    list_display = ["created_at", "model", "outcome", "input_tokens", "output_tokens", "cost_usd"]


@admin.register(SummaryBatch)
class SummaryBatchAdmin(admin.ModelAdmin):
    list_display = ["batch_id", "status", "created_at", "finished_at"]


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
