"""The account links in every page's header: the reader's name and log-out form, or log in / sign up.

Both are frozen partials (newsroom/frozen.py): anonymous pages are cached and shared, so theirs
is the same for everyone (no token, no name). Pages assembled without a template render
(articles/reader/views.py) call `account_nav` directly; base.html reaches it through
templates/accounts/_nav.html.
"""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString

from newsroom.frozen import frozen


def account_nav(user: Any, csrf_token: Any) -> SafeString:
    if getattr(user, "is_authenticated", False):  # a page rendered without a reader: anonymous
        return frozen("accounts/_nav_reader.html", name=user.public_name, csrf_token=csrf_token)
    return frozen("accounts/_nav_anonymous.html")
