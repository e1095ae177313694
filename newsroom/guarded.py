"""The compare-and-set every guarded state change is built on (docs/pipeline.md)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.expressions import Combinable


def compare_and_set(instance: models.Model, rows: models.QuerySet, values: dict[str, Any]) -> bool:
    """UPDATE `rows` (the instance's row, filtered on what the caller read) with `values`, in
    one statement. False when no row matched: someone else changed it first, and nothing was
    written. On success the instance holds what was written (expressions such as F("n") + 1
    are read back), so callers never save an in-memory copy."""
    if not rows.filter(pk=instance.pk).update(**values):
        return False
    computed = [name for name, value in values.items() if isinstance(value, Combinable)]
    for name, value in values.items():
        if name not in computed:
            setattr(instance, name, value)
    if computed:
        instance.refresh_from_db(fields=computed)
    return True
