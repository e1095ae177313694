"""Take the words of "this looks wrong" reports out of the audit log for accounts deleted
before account deletion did so itself (AuditEntry.objects.redact_personal_text).

A report is always written with its reader as actor, so a `claim.reported` entry without an
actor belongs to a deleted account. The same rule as the model method: keep the facts, drop
the rest; running it again changes nothing.
"""

from django.db import migrations

# AuditEntry.FACT_DETAILS when this migration was written (historical models have no
# class attributes).
FACT_DETAILS = frozenset({"version", "scheduled_for", "topics", "claim", "quoted_claim", "user_id"})


def redact_orphaned_reports(apps, schema_editor):
    AuditEntry = apps.get_model("articles", "AuditEntry")
    entries = []
    for entry in AuditEntry.objects.filter(action="claim.reported", actor__isnull=True).only("pk", "details"):
        if "redacted" in entry.details:
            continue
        kept = {key: value for key, value in entry.details.items() if key in FACT_DETAILS}
        entry.reason, entry.details = "", {**kept, "redacted": "account deleted"}
        entries.append(entry)
    AuditEntry.objects.bulk_update(entries, ["reason", "details"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_editor_and_moderator_groups"),
        ("articles", "0001_initial"),
    ]

    operations = [migrations.RunPython(redact_orphaned_reports, migrations.RunPython.noop)]
