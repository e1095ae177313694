"""The WebSub callback: the one ingest endpoint on the public web (docs/ingest.md).

Hubs reach it at /websub/<token>/, the token being the subscription's own unguessable one.
A GET is a hub verifying a request; a POST is a push, refused unread when it is larger than
WEBSUB_MAX_BODY_BYTES, and refused unless signed with the subscription's secret.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import websub
from .parse import FeedError
from .tasks import extract_article


def _refused(exc: websub.Refused) -> HttpResponse:
    return HttpResponse(f"{exc}\n", status=exc.status, content_type="text/plain; charset=utf-8")


@csrf_exempt  # hubs are not browsers: a push is authenticated by its signature
@never_cache
@require_http_methods(["GET", "POST"])
def websub_callback(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        try:
            answer = websub.subscription_verify(
                token=token,
                mode=request.GET.get("hub.mode", ""),
                topic=request.GET.get("hub.topic", ""),
                challenge=request.GET.get("hub.challenge", ""),
                lease_seconds=request.GET.get("hub.lease_seconds", ""),
                reason=request.GET.get("hub.reason", ""),
            )
        except websub.Refused as exc:
            return _refused(exc)
        return HttpResponse(answer, content_type="text/plain; charset=utf-8")

    try:
        subscription = websub.subscription_for_push(token=token)
    except websub.Refused as exc:
        return _refused(exc)
    # Never more than the cap is read: a declared length over it is refused unread, and a body
    # without one is read one byte past the cap, to tell that it is too long.
    cap = settings.WEBSUB_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH", "")
    if declared.isdigit() and int(declared) > cap:
        return HttpResponse(status=413)
    body = request.read(cap + 1)
    if len(body) > cap:
        return HttpResponse(status=413)
    try:
        websub.push_authenticate(
            subscription=subscription,
            body=body,
            signature=request.headers.get("X-Hub-Signature", ""),
            link_headers=[request.headers.get("Link", "")],
        )
        result = websub.push_receive(subscription=subscription, body=body)
    except websub.Refused as exc:
        return _refused(exc)
    except FeedError as exc:
        return HttpResponse(f"Not a feed: {exc}\n", status=400, content_type="text/plain; charset=utf-8")
    for article_id in result.new_article_ids if result else []:
        extract_article.delay_on_commit(article_id)
    return HttpResponse(status=202)
