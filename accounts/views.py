"""The reader's profile: name, settings, their comments, export and account deletion."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from comments.models import Comment

from .forms import DeleteAccountForm, ProfileForm
from .services import user_delete, user_export

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
    return render(request, "accounts/profile.html", {"form": form, "comments": comments})


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
