"""Moderation in the admin: the queue of held and flagged comments, and the three
decisions (approve, remove with a reason, ban the author), each written to the audit log
by comments.services.comment_moderate."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .models import Comment, CommentFlag
from .services import CommentRefused, ModerationAction, comment_moderate
from .tasks import notify_reply


class ReviewFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [
            ("queue", _("Needs review (held or flagged)")),
            ("held", _("Held")),
            ("flagged", _("Flagged")),
        ]

    def queryset(self, request, queryset):
        flagged = Q(flag_count__gt=0) & ~Q(status=Comment.Status.REMOVED)
        if self.value() == "queue":
            return queryset.filter(Q(status=Comment.Status.HELD) | flagged)
        if self.value() == "held":
            return queryset.filter(status=Comment.Status.HELD)
        if self.value() == "flagged":
            return queryset.filter(flagged)
        return queryset


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


class CommentFlagInline(admin.TabularInline):
    model = CommentFlag
    extra = 0
    can_delete = False
    fields = ["user", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["short_body", "article", "author", "status", "flag_count", "claim", "created_at"]
    list_filter = [ReviewFilter, "status", "reports_wrong_claim"]
    list_select_related = ["article", "author"]
    search_fields = ["body", "author__email", "article__title"]
    date_hierarchy = "created_at"
    actions = ["approve", "remove", "ban_author"]
    inlines = [CommentFlagInline]
    # Moderators decide through the actions, which keep the audit log; nobody edits text here.
    readonly_fields = [
        "article",
        "author",
        "parent",
        "depth",
        "body",
        "body_html",
        "status",
        "status_reason",
        "is_deleted",
        "created_at",
        "edited_at",
        "claim",
        "reports_wrong_claim",
        "flag_count",
        "ip_address",
    ]
    exclude = ["body_html"]

    @admin.display(description=_("comment"))
    def short_body(self, obj: Comment) -> str:
        return (obj.body[:80] + "…") if len(obj.body) > 80 else obj.body or "[deleted]"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting rows would break threads and the audit trail; "remove" hides instead.
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("comments.moderate_comment")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # Moderators land on the queue, not on every comment ever posted.
        if request.method == "GET" and not request.GET:
            query = request.GET.copy()
            query["review"] = "queue"
            request.GET = query
            request.META["QUERY_STRING"] = query.urlencode()
        return super().changelist_view(request, extra_context)

    def _moderate(self, request: HttpRequest, queryset: QuerySet, action: str, reason: str = "") -> None:
        done, refused = 0, []
        for comment in queryset.select_related("article", "author"):
            try:
                outcome = comment_moderate(
                    comment=comment, moderator=request.user, action=action, reason=reason
                )
            except CommentRefused as error:
                # e.g. another moderator decided meanwhile: the rest of the selection still counts.
                refused.append(f"{comment.pk}: {error}")
                continue
            done += 1
            if outcome.notify_reply:
                notify_reply.delay_on_commit(comment.pk)
        for message in refused:
            self.message_user(request, message, messages.ERROR)
        self.message_user(request, _("%(count)d comment(s) updated.") % {"count": done}, messages.SUCCESS)

    def _with_reason(
        self, request: HttpRequest, queryset: QuerySet, action: str, title: str
    ) -> HttpResponse | None:
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            self._moderate(request, queryset, action, form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/comments/comment/reason.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "comments": queryset.select_related("author"),
                "action": request.POST.get("action"),
                "opts": self.model._meta,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            },
        )

    @admin.action(description=_("Approve selected comments"), permissions=["moderate"])
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._moderate(request, queryset, ModerationAction.APPROVE)

    @admin.action(description=_("Remove selected comments (with a reason)"), permissions=["moderate"])
    def remove(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_reason(request, queryset, ModerationAction.REMOVE, _("Remove comments"))

    @admin.action(description=_("Remove and ban the authors (with a reason)"), permissions=["moderate"])
    def ban_author(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._with_reason(
            request, queryset, ModerationAction.BAN, _("Remove comments and ban authors")
        )
