"""End to end through Debian's Chromium: an editor edits a key point on the desk and approves,
and an anonymous reader sees the edit on the article page."""

from __future__ import annotations

import re
import shutil

import pytest

from articles.models import Article
from tests import factories

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.browser,
    # Transactional: the live server's thread must see the rows. Not serialized_rollback: its
    # restore collides with content types re-created by any earlier transactional test's flush.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


def _log_in(page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    # The admin's own form says "username"; routed through allauth it says "login".
    name = "login" if page.locator('input[name="login"]').count() else "username"
    page.fill(f'input[name="{name}"]', email)
    page.fill('input[name="password"]', password)
    # The site header has a search form too: submit the one holding the password.
    page.locator('form:has(input[name="password"]) [type="submit"]').first.click()
    page.wait_for_load_state()


def _editors_group() -> None:
    """The Editors group as the groups migration defines it, re-created when an earlier
    transactional test's flush emptied the tables (permissions and content types included)."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()  # ids cached before the flush are gone
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    migration = importlib.import_module("accounts.migrations.0002_editor_and_moderator_groups")
    group, _ = Group.objects.get_or_create(name="Editors")
    for app_label, codename in migration.EDITOR_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def _serious_accessibility_problems(page) -> list[tuple[str, list]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_an_editor_edits_a_key_point_approves_and_readers_see_it(live_server, browser):
    from allauth.account.models import EmailAddress

    _editors_group()  # an earlier transactional test's flush removes the migrated groups
    editor = factories.make_user(email="desk-editor@example.com", group="Editors", staff=True)
    # When the admin login goes through allauth, an unverified address cannot log in.
    EmailAddress.objects.create(user=editor, email=editor.email, verified=True, primary=True)
    article = factories.make_review_article(title="Council approves light-rail line")
    edited = "The council approved the line by nine votes to two."

    page = browser.new_page()
    _log_in(page, live_server.url, editor.email, "correct horse battery")
    page.get_by_role("link", name="Open the review queue").click()
    page.get_by_role("link", name="Council approves light-rail line").click()
    assert _serious_accessibility_problems(page) == []
    page.get_by_label("What happened", exact=True).fill(edited)
    page.get_by_role("button", name="Approve and publish").click()
    page.wait_for_url(re.compile(r"/admin/articles/article/"))
    assert "Published “Council approves light-rail line”" in page.content()

    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    reader_page = browser.new_context().new_page()  # a fresh context has no session: anonymous
    reader_page.goto(live_server.url + article.get_absolute_url())
    assert reader_page.get_by_text(edited).is_visible()
