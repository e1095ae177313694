"""The desk's view of sources: health columns, actions, paused alert and OPML import."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from articles.models import AuditEntry, Source, Topic, WebSubSubscription
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:articles_source_changelist"


def test_the_sources_list_shows_health_columns_with_a_bounded_query_count(
    client, editor, django_assert_max_num_queries
):
    for i in range(8):
        source = factories.make_source(
            last_status="ok", consecutive_failures=i, last_error_class="timeout" if i else ""
        )
        factories.make_article(source=source)
    client.force_login(editor)
    with django_assert_max_num_queries(15):
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    for column in (
        "Last fetched at",
        "Consecutive failures",
        "Last error class",
        "Articles (7 days)",
        "Status",
    ):
        assert column.lower() in html.lower()


def test_a_paused_source_raises_a_visible_alert(client, editor):
    factories.make_source(
        name="Broken Feed", paused_at=timezone.now(), pause_reason="Paused after 10 failed polls"
    )
    client.force_login(editor)
    html = client.get(reverse(CHANGELIST)).content.decode()
    assert 'role="alert"' in html and "Broken Feed" in html and "Paused after 10 failed polls" in html


def test_no_alert_when_every_source_is_healthy(client, editor):
    factories.make_source()
    client.force_login(editor)
    assert 'role="alert"' not in client.get(reverse(CHANGELIST)).content.decode()


def test_pause_and_resume_actions_change_the_source_and_leave_an_audit_trail(client, editor):
    source = factories.make_source(consecutive_failures=4, next_poll_at=timezone.now() + timedelta(days=1))
    client.force_login(editor)
    client.post(reverse(CHANGELIST), {"action": "pause", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.paused_at is not None
    client.post(reverse(CHANGELIST), {"action": "resume", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.paused_at is None and source.consecutive_failures == 0
    assert source.next_poll_at <= timezone.now()
    actions = list(AuditEntry.objects.filter(actor=editor).values_list("action", flat=True))
    assert sorted(actions) == ["source-paused", "source-resumed"]


def test_poll_now_makes_the_source_due_and_polls_it(
    client, editor, settings, django_capture_on_commit_callbacks
):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []
    source = factories.make_source(
        feed_url="http://127.0.0.1:9/feed", next_poll_at=timezone.now() + timedelta(days=1)
    )
    client.force_login(editor)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse(CHANGELIST), {"action": "poll_now", "_selected_action": [source.pk]})
    assert response.status_code == 302
    assert len(callbacks) == 1  # fetch_source is enqueued when the request's transaction commits
    source.refresh_from_db()
    assert source.next_poll_at <= timezone.now()


def test_a_moderator_cannot_see_or_act_on_sources(client, moderator):
    source = factories.make_source()
    client.force_login(moderator)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    client.post(reverse(CHANGELIST), {"action": "pause", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.paused_at is None
    assert client.get(reverse("admin:articles_source_import_opml")).status_code == 403


def test_opml_can_be_imported_from_the_admin(client, editor):
    client.force_login(editor)
    opml = SimpleUploadedFile(
        "feeds.opml",
        b'<opml version="2.0"><body><outline text="Good" xmlUrl="https://good.example.org/feed"/>'
        b'<outline text="Bad" xmlUrl="ftp://bad.example.org/"/></body></opml>',
    )
    response = client.post(reverse("admin:articles_source_import_opml"), {"file": opml}, follow=True)
    assert response.status_code == 200
    assert "Added 1, already present 0, invalid 1." in response.content.decode()
    assert list(Source.objects.values_list("name", flat=True)) == ["Good"]


CATEGORISED = (
    b'<opml version="2.0"><body>'
    b'<outline text="A" xmlUrl="https://a.example.org/feed" category="science,Quantum Computing"/>'
    b'<outline text="B" xmlUrl="https://b.example.org/feed" category="Quantum Computing"/>'
    b"</body></opml>"
)


def test_the_opml_upload_lists_categories_that_name_no_topic(client, editor):
    Topic.objects.create(slug="science", name="Science")
    client.force_login(editor)
    opml = SimpleUploadedFile("feeds.opml", CATEGORISED)
    response = client.post(reverse("admin:articles_source_import_opml"), {"file": opml}, follow=True)
    html = response.content.decode()
    assert "Added 2, already present 0, invalid 0." in html
    assert "Categories that name no topic (number of feeds in brackets): Quantum Computing (2)." in html
    assert not Topic.objects.filter(slug="quantum-computing").exists()
    assert list(Source.objects.get(name="A").topics.values_list("slug", flat=True)) == ["science"]


def test_the_opml_upload_creates_missing_topics_when_ticked(client, editor):
    client.force_login(editor)
    opml = SimpleUploadedFile("feeds.opml", CATEGORISED)
    response = client.post(
        reverse("admin:articles_source_import_opml"), {"file": opml, "create_topics": "on"}, follow=True
    )
    assert "Created topics: science, quantum-computing." in response.content.decode()
    assert Source.objects.filter(topics__slug="quantum-computing").count() == 2


@pytest.mark.parametrize(
    "content, error",
    [
        (b" " * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
        (
            b'<?xml version="1.0"?>' + b" " * 70_000 + b'<!DOCTYPE opml [<!ENTITY e "Evil">]>'
            b'<opml><body><outline text="&e;" xmlUrl="https://e.example.org/feed"/></body></opml>',
            "DTD",
        ),
    ],
    ids=["too-large", "entity-after-padding"],
)
def test_the_opml_upload_refuses_large_files_and_dtds(client, editor, content, error):
    client.force_login(editor)
    opml = SimpleUploadedFile("feeds.opml", content)
    response = client.post(reverse("admin:articles_source_import_opml"), {"file": opml})
    assert response.status_code == 200 and error in response.content.decode()
    assert not Source.objects.exists()


def test_the_import_page_renders_for_an_editor(client, editor):
    client.force_login(editor)
    response = client.get(reverse("admin:articles_source_import_opml"))
    assert response.status_code == 200 and b'type="file"' in response.content
    assert b'type="checkbox" name="create_topics"' in response.content


def test_the_sources_list_filters_paused_sources(client, editor):
    factories.make_source(name="Stopped feed", paused_at=timezone.now())
    factories.make_source(name="Healthy feed")
    client.force_login(editor)
    html = client.get(reverse(CHANGELIST), {"paused": "yes"}).content.decode()
    assert "Stopped feed" in html and "Healthy feed" not in html


def test_an_edit_in_the_source_form_keeps_the_fetch_state_a_poll_wrote_meanwhile(rf, editor):
    from types import SimpleNamespace

    from django.contrib import admin

    from articles.ingest.admin import SourceAdmin

    source = factories.make_source(name="City Wire", etag='"v1"', consecutive_failures=0)
    edited = Source.objects.get(pk=source.pk)  # what the admin read when the form was posted
    edited.name = "City Wire (morning)"
    # A poll finishes between the admin reading the row and saving the editor's change.
    Source.objects.filter(pk=source.pk).update(
        etag='"v2"', consecutive_failures=2, last_error_class="timeout"
    )

    request = rf.post("/")
    request.user = editor
    SourceAdmin(Source, admin.site).save_model(request, edited, SimpleNamespace(changed_data=["name"]), True)

    source.refresh_from_db()
    assert source.name == "City Wire (morning)"
    assert (source.etag, source.consecutive_failures, source.last_error_class) == ('"v2"', 2, "timeout")


def test_websub_subscriptions_are_listed_read_only_without_their_credentials(client, django_user_model):
    subscription = WebSubSubscription.objects.create(
        source=factories.make_source(name="Hubbed feed"),
        hub_url="https://hub.example.net/",
        topic_url="https://source.example.com/feed",
        token="callback-token-" + "t" * 30,
        secret="push-secret-" + "s" * 30,
        last_error="subscribe: HTTP 503",
    )
    admin = django_user_model.objects.create_superuser(email="root@example.com", password="x" * 20)
    client.force_login(admin)
    listing = client.get(reverse("admin:articles_websubsubscription_changelist")).content.decode()
    assert "Hubbed feed" in listing and "HTTP 503" in listing
    detail = client.get(reverse("admin:articles_websubsubscription_change", args=[subscription.pk]))
    assert detail.status_code == 200
    for response in (listing, detail.content.decode()):
        assert subscription.token not in response and subscription.secret not in response
    assert (
        client.post(reverse("admin:articles_websubsubscription_change", args=[subscription.pk])).status_code
        == 403
    )
