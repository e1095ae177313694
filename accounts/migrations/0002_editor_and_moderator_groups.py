"""Create the Editors and Moderators groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITOR_PERMISSIONS = [
    ("articles", "view_article"),
    ("articles", "change_article"),
    ("articles", "approve_article"),
    ("articles", "view_summary"),
    ("articles", "add_summary"),
    ("articles", "change_summary"),
    ("articles", "view_source"),
    ("articles", "add_source"),
    ("articles", "change_source"),
    ("articles", "view_topic"),
    ("articles", "add_topic"),
    ("articles", "change_topic"),
    ("articles", "view_fetchattempt"),
    ("articles", "view_modelcall"),
    ("articles", "view_summarybatch"),
    ("articles", "view_auditentry"),
    ("comments", "view_comment"),
]
MODERATOR_PERMISSIONS = [
    ("comments", "view_comment"),
    ("comments", "change_comment"),
    ("comments", "moderate_comment"),
    ("comments", "view_commentflag"),
    ("articles", "view_article"),
    ("articles", "view_auditentry"),
]
GROUPS = {"Editors": EDITOR_PERMISSIONS, "Moderators": MODERATOR_PERMISSIONS}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("articles", "0001_initial"),
        ("comments", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
