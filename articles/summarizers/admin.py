"""Spend in the admin: every model call, and Message Batches."""

from __future__ import annotations

from django.contrib import admin, messages

from articles.models import ModelCall, SummaryBatch

from .budget import budget_exhausted, budget_status


def _budget_message(request) -> None:
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
