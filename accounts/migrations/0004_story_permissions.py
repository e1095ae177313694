"""Editors and Moderators see stories on the desk (the story list and the per-story review
queue). What editors may do to a story is the approve permission they already hold
(articles/desk/permissions.py); the story admin offers no stock add, change or delete."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {"Editors": [("articles", "view_story")], "Moderators": [("articles", "view_story")]}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="articles", codename="view_story")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_redact_reports_of_deleted_accounts"),
        ("articles", "0004_stories"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
