"""Comment actions. Thin: authorise, validate the form, call one service, respond.

Every action answers a normal form POST with a redirect back to the article, and a
JavaScript POST (Accept: application/json) with JSON, so both go through the same checks.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from articles.models import Article
from newsroom.client_ip import client_ip

from .forms import CommentEditForm, CommentForm
from .models import Comment
from .services import (
    CommentRefused,
    comment_can_edit,
    comment_delete,
    comment_edit,
    comment_flag,
    comment_permission_problem,
    comment_post,
)
from .tasks import notify_reply
from .thread import make_node


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back_to(comment_or_article: Comment | Article, anchor: str = "discussion") -> HttpResponseRedirect:
    article = comment_or_article if isinstance(comment_or_article, Article) else comment_or_article.article
    return HttpResponseRedirect(f"{article.get_absolute_url()}#{anchor}")


def _refused(
    request: HttpRequest, error: CommentRefused, *, article: Article, form=None, template: str
) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": str(error)}, status=error.status)
    return render(
        request,
        template,
        {"article": article, "form": form, "error": str(error)},
        status=error.status,
    )


def _first_error(form) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("Please check the form.")


@never_cache
@require_POST
@login_required
def post(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.published(), pk=article_id)
    form = CommentForm(request.POST)
    template = "comments/post_page.html"
    if form.is_bot():
        return _refused(
            request,
            CommentRefused(_("Your comment could not be posted.")),
            article=article,
            form=form,
            template=template,
        )
    if not form.is_valid():
        return _refused(
            request, CommentRefused(_first_error(form)), article=article, form=form, template=template
        )
    parent = None
    if form.cleaned_data["parent"]:
        parent = Comment.objects.filter(pk=form.cleaned_data["parent"], article=article).first()
        if parent is None:
            return _refused(
                request,
                CommentRefused(_("This comment can no longer be replied to.")),
                article=article,
                form=form,
                template=template,
            )
    try:
        comment = comment_post(
            user=request.user,
            article=article,
            body=form.cleaned_data["body"],
            parent=parent,
            claim=form.cleaned_data["claim"],
            reports_wrong_claim=form.cleaned_data["reports_wrong_claim"],
            ip=client_ip(request),
        )
    except CommentRefused as error:
        return _refused(request, error, article=article, form=form, template=template)
    if comment.is_public_reply:
        notify_reply.delay_on_commit(comment.pk)

    if comment.status == Comment.Status.HELD:
        message = _("Thanks! Your comment will appear once a moderator has looked at it.")
    elif comment.reports_wrong_claim:
        message = _("Thanks! Your report went to the editors.")
    else:
        message = _("Your comment is posted.")
    if _wants_json(request):
        node = make_node(comment, user=request.user, may_post=True)
        html = render_to_string("comments/_comment.html", {"node": node, "article": article}, request)
        return JsonResponse(
            {"html": html, "parent": parent.pk if parent else None, "id": comment.pk, "message": message},
            status=201,
        )
    messages.success(request, message)
    return _back_to(comment, f"comment-{comment.pk}")


@never_cache
@login_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    """The reply form on its own page, for readers without JavaScript."""
    parent = get_object_or_404(Comment.objects.select_related("article", "author"), pk=pk)
    article = parent.article
    node = make_node(parent, user=request.user, may_post=comment_permission_problem(request.user) is None)
    if not node.can_reply or not Article.objects.published().filter(pk=article.pk).exists():
        error = CommentRefused(
            comment_permission_problem(request.user) or _("This comment can no longer be replied to."),
            status=403,
        )
        return _refused(request, error, article=article, template="comments/post_page.html")
    return render(request, "comments/reply_page.html", {"article": article, "parent": parent})


@never_cache
@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    template = "comments/edit_page.html"
    form = CommentEditForm(request.POST or None, initial={"body": comment.body})
    try:
        if request.method == "POST":
            if not form.is_valid():
                raise CommentRefused(_first_error(form))
            comment_edit(comment=comment, user=request.user, body=form.cleaned_data["body"])
            if _wants_json(request):
                return JsonResponse({"html": comment.body_html, "message": _("Your comment is updated.")})
            messages.success(request, _("Your comment is updated."))
            return _back_to(comment, f"comment-{comment.pk}")
        if comment.author_id != request.user.pk:
            raise CommentRefused(_("You can only change your own comments."), status=403)
        if not comment_can_edit(comment=comment, user=request.user):
            raise CommentRefused(_("Comments can only be edited in the first 15 minutes."), status=403)
    except CommentRefused as error:
        # A refusal of the edit itself shows no form; a problem with the text shows it again.
        shown = form if error.status != 403 else None
        return _refused(request, error, article=comment.article, form=shown, template=template)
    return render(request, template, {"article": comment.article, "form": form, "comment": comment})


@never_cache
@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    template = "comments/delete_page.html"
    try:
        if request.method == "POST":
            comment_delete(comment=comment, user=request.user)
            if _wants_json(request):
                return JsonResponse({"message": _("Your comment is deleted.")})
            messages.success(request, _("Your comment is deleted."))
            return _back_to(comment)
        if comment.author_id != request.user.pk:
            raise CommentRefused(_("You can only change your own comments."), status=403)
    except CommentRefused as error:
        return _refused(request, error, article=comment.article, template=template)
    return render(request, template, {"article": comment.article, "comment": comment})


@never_cache
@require_POST
@login_required
def flag(request: HttpRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    try:
        created = comment_flag(comment=comment, user=request.user)
    except CommentRefused as error:
        return _refused(request, error, article=comment.article, template="comments/post_page.html")
    message = _("Thanks, a moderator will take a look.") if created else _("You already flagged this.")
    if _wants_json(request):
        return JsonResponse({"message": message})
    messages.success(request, message)
    return _back_to(comment, f"comment-{comment.pk}")
