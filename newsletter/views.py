"""Subscribe, confirm, preferences, unsubscribe and the public digest archive. Thin views:
validate, call one service, render."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from newsroom.client_ip import client_ip

from . import services
from .forms import PreferencesForm, SubscribeForm


def _rate_limited(request: HttpRequest) -> bool:
    # The same client address as allauth's and the comments' limits (TRUSTED_PROXY_COUNT hops).
    key = f"newsletter:subscribe:{client_ip(request)}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count > settings.NEWSLETTER_SUBSCRIBE_LIMIT_PER_HOUR


# The subscribe form sits in pages cached once and served to every anonymous reader, so it
# cannot carry a per-visitor CSRF token. A forged POST can only make us email a confirmation
# link to the address it names (nothing changes until that mailbox clicks it), so instead of
# CSRF we limit requests per IP, per address (a cooldown in the service) and drop honeypot hits.
@csrf_exempt
@never_cache
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST)
    if _rate_limited(request):
        return render(
            request, "newsletter/subscribe_result.html", {"form": form, "limited": True}, status=429
        )
    if not form.is_valid():
        return render(request, "newsletter/subscribe_result.html", {"form": form}, status=400)
    if not form.is_bot:
        user = request.user if request.user.is_authenticated else None
        services.subscriber_subscribe(
            email=form.cleaned_data["email"], topics=form.cleaned_data["topics"], user=user
        )
    # The same answer for new, pending, confirmed and bot: it reveals nothing about the address.
    return render(request, "newsletter/subscribe_result.html", {"form": form, "done": True})


def _invalid_link(request: HttpRequest, error: services.InvalidToken) -> HttpResponse:
    return render(request, "newsletter/invalid_link.html", {"error": str(error)}, status=400)


# Confirmation is a POST behind a button: mail scanners that open every link with GET
# must not confirm a subscription on the owner's behalf.
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            subscriber = services.subscriber_confirm(token=token)
            preferences_url, _ = services.manage_urls(subscriber=subscriber)
            return render(request, "newsletter/confirmed.html", {"preferences_url": preferences_url})
        services.subscriber_from_token(token=token, purpose="confirm")
    except services.InvalidToken as exc:
        return _invalid_link(request, exc)
    return render(request, "newsletter/confirm.html")


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = services.subscriber_from_token(token=token, purpose="manage")
    except services.InvalidToken as exc:
        return _invalid_link(request, exc)
    if subscriber.status in (subscriber.Status.PENDING, subscriber.Status.UNSUBSCRIBED):
        return _invalid_link(request, services.InvalidToken("This subscription is not active."))
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST, instance=subscriber)
        if form.is_valid():
            form.save()
            services.subscriber_resume(subscriber=subscriber)
            saved = True
    else:
        form = PreferencesForm(instance=subscriber)
    status = 400 if request.method == "POST" and not saved else 200
    return render(
        request,
        "newsletter/preferences.html",
        {"form": form, "saved": saved, "subscriber": subscriber, "token": token},
        status=status,
    )


# RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" with no cookies and
# no CSRF token, so this view is CSRF-exempt; the signed token in the URL is the protection.
# GET only shows a button, because link scanners follow GETs.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = services.subscriber_from_token(token=token, purpose="manage")
    except services.InvalidToken as exc:
        return _invalid_link(request, exc)
    if request.method == "POST":
        services.subscriber_unsubscribe(subscriber=subscriber, reason="unsubscribed by link")
        return render(request, "newsletter/unsubscribed.html")
    return render(request, "newsletter/unsubscribe.html")


def archive(request: HttpRequest, day: str) -> HttpResponse:
    try:
        date = dt.date.fromisoformat(day)
    except ValueError as exc:
        raise Http404("No such date.") from exc
    today = timezone.now().date()
    if date > today:
        raise Http404("That digest has not been written yet.")
    if date < (services.first_publication_day() or today):
        # Bounded: the site's archive starts with its first published summary, not in year 1.
        raise Http404("There was no digest yet on that day.")
    items = services.digest_catalogue(until=services.day_end_utc(date)).items_for()
    return render(request, "newsletter/archive.html", {"day": date, "items": items})
