from __future__ import annotations

from django.contrib import admin

from .models import Comment


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["article", "author", "status", "flag_count", "created_at"]
    list_filter = ["status"]
    list_select_related = ["article", "author"]
