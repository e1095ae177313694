"""accounts/migrations/0003: report words left by accounts deleted before deletion redacted them."""

from __future__ import annotations

import importlib

from django.apps import apps

from articles.models import AuditEntry

migration = importlib.import_module("accounts.migrations.0003_redact_reports_of_deleted_accounts")


def test_reports_of_already_deleted_accounts_lose_their_words_and_others_keep_theirs(
    commenter, published_article
):
    orphan = AuditEntry.record(
        "claim.reported", article=published_article, claim="kp:1", quoted_claim="Q", comment="Old words"
    )
    live = AuditEntry.record(
        "claim.reported", actor=commenter, article=published_article, claim="kp:0", comment="Live words"
    )
    note = AuditEntry.record("source-paused", reason="paused by the poller")

    migration.redact_orphaned_reports(apps, None)
    migration.redact_orphaned_reports(apps, None)  # running again changes nothing

    for entry in (orphan, live, note):
        entry.refresh_from_db()
    assert orphan.details == {"claim": "kp:1", "quoted_claim": "Q", "redacted": "account deleted"}
    assert live.details["comment"] == "Live words" and note.reason == "paused by the poller"
