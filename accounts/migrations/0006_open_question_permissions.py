"""Editors and Moderators see follow-ups on the desk (the list of open "What to watch" questions
and the answers proposed for them). Deciding about a proposal is the approve permission editors
already hold (articles/desk/permissions.py); the admin offers no stock add, change or delete."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {"Editors": [("articles", "view_openquestion")], "Moderators": [("articles", "view_openquestion")]}


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
            *Permission.objects.filter(content_type__app_label="articles", codename="view_openquestion")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_api_tokens"),
        ("articles", "0008_story_summaries"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
