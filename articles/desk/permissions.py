"""Who may do what on the desk: the one place the rule is written down."""

from __future__ import annotations

from typing import Any

APPROVE_PERMISSION = "articles.approve_article"
EDIT_PERMISSION = "articles.add_summary"


def can_approve(user: Any) -> bool:
    """Only Editors approve, reject, schedule, regenerate, restore and retry."""
    return bool(user.is_active and user.is_staff and user.has_perm(APPROVE_PERMISSION))


def can_edit_desk(user: Any) -> bool:
    """Saving a draft needs the right to add summary versions (Editors have it)."""
    return bool(user.is_active and user.is_staff and user.has_perm(EDIT_PERMISSION))
