"""Desk view of the newsletter: subscribers, deliveries per day with failures and the stories
each one carried, a digest preview for any date and "send me a test"."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.csp import CSP

from articles.models import Story
from newsroom.admin import ChangedFieldsOnlyAdmin

from . import services
from .models import Delivery, SentStory, Subscriber


def _day_from(request: HttpRequest) -> dt.date:
    try:
        return dt.date.fromisoformat(request.GET.get("date") or request.POST.get("date") or "")
    except ValueError:
        return timezone.now().date()


@admin.register(Subscriber)
class SubscriberAdmin(ChangedFieldsOnlyAdmin):
    list_display = ["email", "channel", "status", "send_hour", "timezone", "confirmed_at", "status_reason"]
    list_filter = ["channel", "status", "topics"]
    search_fields = ["email", "line_user_id", "user__email"]
    filter_horizontal = ["topics"]
    raw_id_fields = ["user"]
    # The status changes only through the actions (Subscriber.transition_to): a change form
    # loaded before a reader unsubscribed must not be able to subscribe them again.
    readonly_fields = ["status", "status_reason", "created_at", "confirmed_at", "confirmation_sent_at"]
    actions = ["pause", "resume"]
    change_list_template = "admin/newsletter/subscriber/change_list.html"

    @admin.action(description="Pause the selected subscriptions")
    def pause(self, request: HttpRequest, queryset) -> None:
        reason = f"paused by {request.user}"
        confirmed = queryset.filter(status=Subscriber.Status.CONFIRMED)
        n = sum(services.subscriber_pause(subscriber=s, reason=reason) for s in confirmed)
        self.message_user(request, f"Paused {n} subscriptions.")

    @admin.action(description="Resume the selected paused subscriptions")
    def resume(self, request: HttpRequest, queryset) -> None:
        paused = queryset.filter(status=Subscriber.Status.PAUSED)
        n = sum(services.subscriber_resume(subscriber=s) for s in paused)
        self.message_user(request, f"Resumed {n} subscriptions.")

    def get_urls(self):
        urls = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="newsletter_digest_preview"),
            path(
                "send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="newsletter_digest_send_test",
            ),
        ]
        return urls + super().get_urls()

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The digest for any date, as the email would show it (no subscriber links)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        day = _day_from(request)
        items = services.digest_catalogue(until=services.day_end_utc(day)).items_for()
        message = services.digest_message(day=day, items=items)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Digest preview — {day.isoformat()}",
            "day": day,
            "email_html": render_to_string("emails/digest.html", {"digest": message}),
            "email_text": render_to_string("emails/digest.txt", {"digest": message}),
            "item_count": len(items),
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/newsletter/preview.html", context)
        # The email's inline styles must show in the preview frame (srcdoc inherits this
        # page's policy). Staff-only page; the email template escapes every value.
        response._csp_config = {**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}
        return response

    def send_test_view(self, request: HttpRequest) -> HttpResponse:
        """POST: email the chosen day's digest to the logged-in staff member."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        day = _day_from(request)
        count = services.digest_send_test(to_email=request.user.email, day=day)
        self.message_user(request, f"Sent the {day} digest ({count} stories) to {request.user.email}.")
        return HttpResponseRedirect(reverse("admin:newsletter_digest_preview") + f"?date={day.isoformat()}")


class SentStoryInline(admin.TabularInline):
    """What a sent delivery showed, and how far each story had got then: why a story did or did
    not go to this reader again."""

    model = SentStory
    fields = ["story_id", "story_title", "changed_at", "published_articles"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "stories sent"

    def has_add_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        # Titles by subquery, not a join: a story deleted since (merged away) keeps its row here.
        title = Story.objects.filter(pk=OuterRef("story_id")).values("title")[:1]
        return super().get_queryset(request).annotate(story_title=Subquery(title)).order_by("pk")

    @admin.display(description="story")
    def story_title(self, row: SentStory) -> str:
        return row.story_title or "(deleted)"


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "digest_date",
        "subscriber",
        "channel",
        "status",
        "attempts",
        "sent_at",
        "next_retry_at",
        "error",
    ]
    list_filter = ["status", "channel", "digest_date"]
    search_fields = ["subscriber__email", "error"]
    date_hierarchy = "digest_date"
    list_select_related = ["subscriber"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [SentStoryInline]
    actions = ["release"]
    change_list_template = "admin/newsletter/delivery/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (I checked that it did not arrive)")
    def release(self, request: HttpRequest, queryset) -> None:
        n = sum(services.delivery_release(delivery=d) for d in queryset)
        self.message_user(request, f"Queued {n} deliveries for the next run.", messages.SUCCESS)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        since = timezone.now().date() - dt.timedelta(days=14)
        per_day = (
            Delivery.objects.filter(digest_date__gte=since)
            .values("digest_date")
            .annotate(
                sent=Count("pk", filter=Q(status=Delivery.Status.SENT)),
                skipped=Count("pk", filter=Q(status=Delivery.Status.SKIPPED)),
                failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
                claimed=Count("pk", filter=Q(status=Delivery.Status.CLAIMED)),
            )
            .order_by("-digest_date")
        )
        extra_context = {**(extra_context or {}), "per_day": list(per_day)}
        return super().changelist_view(request, extra_context=extra_context)
