"""The reader's profile: name, settings, their comments, export and account deletion."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from comments.models import Comment

from .forms import ApiTokenForm, DeleteAccountForm, ProfileForm
from .models import ApiToken
from .services import TooManyTokens, api_token_create, api_token_revoke, user_delete, user_export

PROFILE_COMMENTS = 50


@never_cache
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("profile")
    comments = (
        Comment.objects.filter(author=request.user, is_deleted=False)
        .select_related("article")
        .order_by("-created_at")[:PROFILE_COMMENTS]
    )
    return render(request, "accounts/profile.html", _profile_context(request, form=form, comments=comments))


def _profile_context(request: HttpRequest, **context: object) -> dict[str, object]:
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    return {
        "api_docs_url": reverse("api_docs"),
        "token_form": ApiTokenForm(),
        "api_tokens": tokens,
        "api_tokens_max": settings.API_TOKENS_PER_USER,
        **context,
    }


@never_cache
@require_POST
@login_required
def api_token_new(request: HttpRequest) -> HttpResponse:
    """Create an API token and show its secret on this one response: never in a redirect,
    a message cookie or a log, and the page is not stored anywhere (no-store)."""
    form = ApiTokenForm(request.POST)
    secret = None
    if form.is_valid():
        try:
            token, secret = api_token_create(user=request.user, name=form.cleaned_data["name"])
        except TooManyTokens:
            form.add_error(
                None,
                _("You have %(n)d tokens already: revoke one you no longer use first.")
                % {"n": settings.API_TOKENS_PER_USER},
            )
    context = {"token_form": form} if secret is None else {"new_token": token, "new_secret": secret}
    response = render(request, "accounts/api_token.html", context, status=200 if secret else 400)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_POST
@login_required
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    if api_token_revoke(user=request.user, token_id=token_id):
        messages.success(request, _("The API token is revoked: it no longer works."))
    return redirect("profile")


@never_cache
@require_POST
@login_required
def export(request: HttpRequest) -> HttpResponse:
    data = user_export(user=request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="newsroom-my-data-{stamp}.json"'
    return response


@never_cache
@login_required
def delete(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        user_delete(user=user)
        return render(request, "accounts/deleted.html")
    return render(request, "accounts/delete.html", {"form": form})
