"""Admin plumbing shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest


class ChangedFieldsOnlyAdmin(admin.ModelAdmin):
    """An edit in the admin writes only the fields the form changed.

    The admin's stock save() writes every column of the row it read when the form was
    submitted; for rows a worker also writes (a source's fetch state, a subscriber's status)
    that would put back values the worker changed meanwhile.
    """

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        concrete = {f.name for f in obj._meta.concrete_fields if not f.primary_key}
        changed = [name for name in form.changed_data if name in concrete]
        if changed:
            obj.save(update_fields=changed)
