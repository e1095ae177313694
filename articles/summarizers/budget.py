"""The daily spend cap. Past SUMMARY_DAILY_BUDGET_USD, paid summarising pauses until
midnight UTC: articles stay in `extracted` (nothing is dropped) and the sweeper picks them
up the next day. ModelCall rows are the source of truth for spend.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from articles.models import ModelCall


def today_start() -> datetime:
    """Midnight UTC: where the budget's day, and the desk's spend figures, begin."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def spend_today() -> Decimal:
    """USD spent on model calls since midnight UTC."""
    total = ModelCall.objects.filter(created_at__gte=today_start()).aggregate(s=Sum("cost_usd"))["s"]
    return total or Decimal("0")


def daily_budget() -> Decimal:
    return Decimal(settings.SUMMARY_DAILY_BUDGET_USD)


def budget_exhausted() -> bool:
    """True once today's spend reaches the cap. A cap of 0 (or less) means no cap."""
    budget = daily_budget()
    return budget > 0 and spend_today() >= budget


def budget_status() -> str:
    """One line for the desk and the admin, e.g. "$4.97 of $5.00 spent today"."""
    line = f"${spend_today():.2f} of ${daily_budget():.2f} spent on summaries today (UTC)"
    if budget_exhausted():
        line += ": summarising is paused until midnight UTC; waiting articles stay queued."
    return line
