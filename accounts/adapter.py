"""allauth hooks: how accounts look and behave on this site (issue #7)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

# Messages allauth shows after logging in or out land on ordinary (possibly cached)
# reader pages, where no one renders them; they would pile up and surface later out of
# context, so we leave them out.
_SILENT_MESSAGES = {
    "account/messages/logged_in.txt",
    "account/messages/logged_out.txt",
}


def user_display(user: Any) -> str:
    """allauth shows this name in its pages and emails: never the full email address."""
    return user.public_name


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Without django.contrib.sites allauth only knows the request's host name; our
        # emails (templates/account/email/) sign with the site's own name and address.
        context = {**context, "SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}
        super().send_mail(template_prefix, email, context)

    def add_message(
        self,
        request: HttpRequest,
        level: int,
        message_template: str | None = None,
        message_context: dict[str, Any] | None = None,
        extra_tags: str = "",
        message: str | None = None,
    ) -> None:
        if message_template in _SILENT_MESSAGES:
            return
        super().add_message(request, level, message_template, message_context, extra_tags, message)
