"""Sources in the admin: health, poll now, pause/resume, OPML upload; fetch attempts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from articles.ingest import opml
from articles.ingest import sources as source_services
from articles.ingest.parse import FeedError
from articles.ingest.tasks import fetch_source
from articles.models import FetchAttempt, Source, WebSubSubscription
from newsroom.admin import ChangedFieldsOnlyAdmin


class OpmlImportForm(forms.Form):
    file = forms.FileField(
        label="OPML file",
        help_text=(
            "Up to 5 MB. Nothing is fetched. Feeds already present keep their settings and only gain "
            "the topics their categories name."
        ),
    )
    create_topics = forms.BooleanField(
        required=False,
        label="Create missing topics",
        help_text="Create a topic for each category that names none; otherwise such categories are listed.",
    )


class FetchAttemptInline(admin.TabularInline):
    model = FetchAttempt
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["started_at", "outcome", "http_status", "error_class", "error", "entries_found", "entries_new"]
    readonly_fields = fields
    ordering = ["-started_at"]

    def get_queryset(self, request):
        # Only the recent history: a feed polled every 5 minutes piles up thousands of rows.
        ids = FetchAttempt.objects.filter(source_id=request.resolver_match.kwargs.get("object_id"))
        return super().get_queryset(request).filter(pk__in=list(ids.values_list("pk", flat=True)[:20]))


class PausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", "Paused"), ("no", "Not paused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paused_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paused_at__isnull=True)
        return queryset


@admin.register(Source)
class SourceAdmin(ChangedFieldsOnlyAdmin):
    list_display = [
        "name",
        "health",
        "last_fetched_at",
        "consecutive_failures",
        "last_error_class",
        "articles_last_7_days",
        "next_poll_at",
        "is_active",
    ]
    list_filter = ["is_active", PausedFilter, "last_error_class", "topics"]
    search_fields = ["name", "feed_url"]
    actions = ["poll_now", "pause", "resume"]
    inlines = [FetchAttemptInline]
    readonly_fields = [
        "last_fetched_at",
        "last_success_at",
        "next_poll_at",
        "consecutive_failures",
        "last_status",
        "last_error_class",
        "last_error",
        "redirect_target",
        "redirect_streak",
        "paused_at",
        "pause_reason",
        "etag",
        "last_modified",
    ]
    change_list_template = "admin/articles/source/change_list.html"

    def get_queryset(self, request):
        week_ago = timezone.now() - timezone.timedelta(days=7)
        return (
            super()
            .get_queryset(request)
            .annotate(recent_articles=Count("articles", filter=Q(articles__fetched_at__gte=week_ago)))
        )

    @admin.display(description="status")
    def health(self, source: Source) -> str:
        if source.paused_at:
            return "paused"
        if not source.is_active:
            return "inactive"
        return source.last_status or "never polled"

    @admin.display(description="articles (7 days)", ordering="recent_articles")
    def articles_last_7_days(self, source: Source) -> int:
        return source.recent_articles

    @admin.action(description="Poll now", permissions=["change"])
    def poll_now(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        Source.objects.filter(pk__in=ids).update(next_poll_at=timezone.now())
        for source_id in ids:
            fetch_source.delay_on_commit(source_id)
        self.message_user(request, f"Polling {len(ids)} source(s) now.", messages.SUCCESS)

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request, queryset) -> None:
        # Each pause is a conditional UPDATE: a source paused meanwhile keeps its pause and reason.
        paused = sum(
            source_services.source_pause(
                source=source, reason=f"Paused by {request.user}.", actor=request.user
            )
            for source in queryset
        )
        self.message_user(request, f"Paused {paused} source(s).", messages.SUCCESS)

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset) -> None:
        resumed = sum(source_services.source_resume(source=source, actor=request.user) for source in queryset)
        self.message_user(request, f"Resumed {resumed} source(s); they are due now.", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        # The desk must see a feed that stopped, not discover it weeks later.
        extra_context["paused_sources"] = list(
            Source.objects.filter(paused_at__isnull=False).order_by("-paused_at")[:20]
        )
        extra_context["can_import_opml"] = self.has_add_permission(request)
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        custom = [
            path(
                "import-opml/",
                self.admin_site.admin_view(self.import_opml_view),
                name="articles_source_import_opml",
            ),
        ]
        return custom + super().get_urls()

    def import_opml_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OpmlImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                content = opml.opml_read(form.cleaned_data["file"])
                report = opml.opml_import(content=content, create_topics=form.cleaned_data["create_topics"])
            except FeedError as exc:
                form.add_error("file", str(exc))
            else:
                self._report_opml_import(request, report)
                return redirect("admin:articles_source_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Import OPML",
        }
        return TemplateResponse(request, "admin/articles/source/import_opml.html", context)

    def _report_opml_import(self, request, report: opml.OpmlReport) -> None:
        self.message_user(
            request,
            f"Added {len(report.added)}, already present {len(report.present)}, invalid {len(report.invalid)}.",
            messages.SUCCESS,
        )
        if report.tagged:
            self.message_user(
                request, f"Topics added to {len(report.tagged)} feed(s) already present.", messages.INFO
            )
        if report.created_topics:
            self.message_user(
                request, f"Created topics: {', '.join(report.created_topics)}.", messages.SUCCESS
            )
        if report.unknown_categories:
            listed = ", ".join(f"{name} ({count})" for name, count in report.unknown_categories.items())
            self.message_user(
                request,
                f"Categories that name no topic (number of feeds in brackets): {listed}. Import the file "
                'again with "Create missing topics" ticked to create them and file those feeds under them.',
                messages.WARNING,
            )


@admin.register(FetchAttempt)
class FetchAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "source",
        "started_at",
        "outcome",
        "http_status",
        "error_class",
        "entries_new",
        "duration_ms",
    ]
    list_filter = ["outcome", "error_class"]
    list_select_related = ["source"]
    search_fields = ["source__name"]
    date_hierarchy = "started_at"


@admin.register(WebSubSubscription)
class WebSubSubscriptionAdmin(admin.ModelAdmin):
    """What the hubs have agreed to push (docs/ingest.md). Read-only: polls and hubs write it."""

    list_display = [
        "source",
        "hub_url",
        "expires_at",
        "last_push_at",
        "next_request_at",
        "failures",
        "last_error",
    ]
    list_select_related = ["source"]
    search_fields = ["source__name", "hub_url", "topic_url"]
    exclude = ["token", "secret"]  # the callback's credentials never leave the database

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
