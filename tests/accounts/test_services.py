"""accounts/services.py: what deleting an account takes with it, and what the export lists.

A deleted account leaves nothing a person wrote or chose behind: not the words of a "this
looks wrong" report in the audit log and on the desk's review screen, not a digest
subscription. The export lists the same subscriptions the deletion removes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import TooManyTokens, api_token_create, api_token_revoke, user_delete, user_export
from articles.models import AuditEntry
from comments.services import comment_post
from newsletter.models import Delivery, Subscriber
from tests import factories

REPORT = "Riley here: the council said 2.1 billion, call me on 555-0100."


def report(user, article, words: str = REPORT):
    return comment_post(user=user, article=article, body=words, claim="kp:0", reports_wrong_claim=True)


def audit_log_text() -> str:
    rows = AuditEntry.objects.values("actor_id", "reason", "details", "target_type", "target_id")
    return json.dumps(list(rows), default=str)


def test_deleting_an_account_removes_its_report_words_from_the_audit_log_but_keeps_the_report(
    commenter, published_article
):
    report(commenter, published_article)
    entry = AuditEntry.objects.get(action="claim.reported")
    quoted = entry.details["quoted_claim"]

    user_delete(user=commenter)

    entry = AuditEntry.objects.get(action="claim.reported")
    assert entry.actor_id is None and entry.reason == ""
    assert entry.details == {"claim": "kp:0", "quoted_claim": quoted, "redacted": "account deleted"}
    assert entry.article_id == published_article.pk
    assert REPORT not in audit_log_text() and "555-0100" not in audit_log_text()
    assert "reader@example.com" not in audit_log_text()


def test_the_desk_review_screen_shows_the_report_without_the_deleted_readers_words(
    client, commenter, other_commenter, editor, published_article
):
    report(commenter, published_article)
    report(other_commenter, published_article, words="The date is wrong too, it was Monday.")
    client.force_login(editor)
    review = reverse("admin:articles_article_change", args=[published_article.pk])
    assert REPORT in client.get(review).content.decode()

    user_delete(user=commenter)

    html = client.get(review).content.decode()
    assert "A reader reported a claim as wrong." in html
    assert REPORT not in html and "555-0100" not in html
    # Another reader's report keeps its words: only the deleted account's are taken out.
    assert "The date is wrong too, it was Monday." in html


def test_a_deleted_staff_account_keeps_its_desk_facts_but_not_its_words(editor, published_article):
    AuditEntry.record(
        "reject",
        actor=editor,
        article=published_article,
        from_status="review",
        to_status="rejected",
        reason="Erin: a press release, my phone is 555-0199",
        version=3,
        note="free text someone may add later",
    )
    automatic = AuditEntry.record("publish", article=published_article, automatic=True, reason="auto-publish")

    user_delete(user=editor)

    entry = AuditEntry.objects.get(action="reject")
    assert (entry.actor_id, entry.reason, entry.from_status, entry.to_status) == (
        None,
        "",
        "review",
        "rejected",
    )
    assert entry.details == {"version": 3, "redacted": "account deleted"}
    automatic.refresh_from_db()
    assert automatic.reason == "auto-publish"  # entries the account did not write are untouched


def test_audit_entries_stay_append_only_outside_the_redaction(commenter, published_article):
    report(commenter, published_article)
    entry = AuditEntry.objects.get(action="claim.reported")
    entry.reason = "rewritten"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


def test_redacting_twice_changes_nothing_more(commenter, published_article):
    report(commenter, published_article)
    assert AuditEntry.objects.redact_personal_text(commenter) == 1
    first = AuditEntry.objects.get(action="claim.reported").details
    AuditEntry.objects.filter(action="claim.reported").update(actor=commenter)  # as if still linked
    AuditEntry.objects.redact_personal_text(commenter)
    assert AuditEntry.objects.get(action="claim.reported").details == first


@pytest.fixture
def subscriptions(commenter):
    """The commenter's subscriptions (linked, and at a verified second address), one at an
    address they added but never verified, and a stranger's."""
    topic = factories.make_topic("Transport")
    linked = factories.make_subscriber(email="riley.digest@example.net", user=commenter, topics=[topic])
    EmailAddress.objects.create(user=commenter, email="riley@work.example", verified=True, primary=False)
    by_address = factories.make_subscriber(email="riley@work.example", channel="email", send_hour=18)
    EmailAddress.objects.create(user=commenter, email="victim@example.org", verified=False, primary=False)
    unverified = factories.make_subscriber(email="victim@example.org")
    stranger = factories.make_subscriber(email="stranger@example.com")
    Delivery.objects.create(
        subscriber=linked,
        digest_date=dt.date(2025, 3, 1),
        channel="email",
        status="sent",
        sent_at=timezone.now(),
        claim_token="00000000-0000-0000-0000-000000000000",
    )
    return {"linked": linked, "by_address": by_address, "unverified": unverified, "stranger": stranger}


def test_deleting_an_account_deletes_its_digest_subscriptions(commenter, subscriptions):
    user_delete(user=commenter)

    remaining = set(Subscriber.objects.values_list("email", flat=True))
    assert remaining == {"victim@example.org", "stranger@example.com"}
    assert not Delivery.objects.exists()


def test_the_export_lists_the_accounts_digest_subscriptions_and_no_one_elses(commenter, subscriptions):
    exported = user_export(user=commenter)["digest_subscriptions"]

    assert [s["email"] for s in exported] == ["riley.digest@example.net", "riley@work.example"]
    linked = exported[0]
    assert linked["topics"] == ["Transport"] and linked["status"] == "confirmed"
    assert linked["channel"] == "email" and linked["timezone"] == "UTC"
    assert linked["deliveries"] == [
        {
            "digest_date": "2025-03-01",
            "channel": "email",
            "status": "sent",
            "sent_at": linked["deliveries"][0]["sent_at"],
        }
    ]
    assert exported[1]["send_hour"] == 18
    text = json.dumps(exported)
    assert "victim@example.org" not in text and "stranger@example.com" not in text


def test_the_export_download_includes_the_subscriptions(client, commenter, subscriptions):
    client.force_login(commenter)
    data = json.loads(client.post(reverse("profile_export")).content)
    assert {s["email"] for s in data["digest_subscriptions"]} == {
        "riley.digest@example.net",
        "riley@work.example",
    }


# --- API tokens -----------------------------------------------------------------------------


def test_an_api_token_is_stored_only_as_its_sha256_and_found_by_its_secret(reader):
    token, secret = api_token_create(user=reader, name="My dashboard")

    assert secret.startswith("nr_") and len(secret) > 40
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {
        str(value) for value in ApiToken.objects.filter(pk=token.pk).values().get().values()
    }
    assert row.hint == secret[:9]
    assert ApiToken.objects.find(secret) == row
    assert ApiToken.objects.find(secret + "x") is None


def test_a_revoked_token_is_no_longer_found_and_revoking_is_only_for_its_owner(reader, other_commenter):
    token, secret = api_token_create(user=reader, name="Script")

    assert not api_token_revoke(user=other_commenter, token_id=token.pk)
    assert ApiToken.objects.find(secret) is not None
    assert api_token_revoke(user=reader, token_id=token.pk)
    assert not api_token_revoke(user=reader, token_id=token.pk)  # once
    assert ApiToken.objects.find(secret) is None
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_an_account_holds_at_most_api_tokens_per_user_active_tokens(reader, settings):
    settings.API_TOKENS_PER_USER = 2
    first, _ = api_token_create(user=reader, name="one")
    api_token_create(user=reader, name="two")
    with pytest.raises(TooManyTokens):
        api_token_create(user=reader, name="three")

    api_token_revoke(user=reader, token_id=first.pk)
    api_token_create(user=reader, name="three")


def test_the_export_lists_api_tokens_without_their_secret_or_hash(reader):
    token, secret = api_token_create(user=reader, name="My dashboard")

    exported = user_export(user=reader)

    assert [t["name"] for t in exported["api_tokens"]] == ["My dashboard"]
    text = json.dumps(exported)
    assert secret not in text and token.token_hash not in text
