"""Shared fixtures: the named cast for permissions, ready-made articles, and the plumbing
several test packages need (eager Celery, the loopback feed server, fast password hashing,
unhashed static files, a Chromium browser). Test data itself is built by tests/factories.py."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def editor(db):
    return factories.make_user(
        email="editor@example.com", group="Editors", staff=True, display_name="Erin Editor"
    )


@pytest.fixture
def moderator(db):
    return factories.make_user(email="moderator@example.com", group="Moderators", staff=True)


@pytest.fixture
def other_staff(db):
    return factories.make_user(email="staff@example.com", staff=True)


@pytest.fixture
def reader(db):
    return factories.make_user(email="reader@example.com", display_name="Riley Reader")


@pytest.fixture
def commenter(reader):
    """The reader, verified and past the new-account hold: may comment straight away."""
    return factories.verify(reader)


@pytest.fixture
def other_commenter(db):
    return factories.make_commenter(email="other@example.com", display_name="Olive Other")


@pytest.fixture
def published_article(db):
    return factories.make_published_article()


@pytest.fixture
def fast_passwords(settings):
    """The real hasher costs ~0.3 s per user; tests about other things hash with MD5."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plain_static(settings):
    """Unhashed static file names: the admin and the live server work without the manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _usable_connection_for_transactional_tests(request):
    """A transactional test starts on a live database connection.

    Fault tests kill workers and terminate backends; a connection of this process that a
    previous test left broken must not fail the next test's first query. (Tests inside a
    transaction are left alone: closing their connection would end the test's transaction.)
    """
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if {"transactional_db", "live_server"} & names or (marker and marker.kwargs.get("transaction")):
        from tests.processes import close_broken_connections

        close_broken_connections()
    yield


@pytest.fixture
def feed_server(settings):
    """A loopback HTTP server for feeds and pages (tests/fakes/feed_server.py) the fetcher may reach."""
    from tests.fakes.feed_server import serve

    yield from serve(settings)


@pytest.fixture
def websub_hub(settings):
    """A loopback WebSub hub (tests/fakes/websub_hub.py) the guarded client may reach."""
    from tests.fakes.websub_hub import WebSubHub

    settings.FETCH_ALLOWED_PRIVATE_HOSTS = [*settings.FETCH_ALLOWED_PRIVATE_HOSTS, "127.0.0.1"]
    with WebSubHub() as hub:
        yield hub


@pytest.fixture
def eager_celery():
    """Run tasks in-process on both CI legs.

    With REDIS_URL set, Celery sends tasks to the real broker; tests that want the work done
    inline (rather than by a worker process) ask for this fixture.
    """
    from newsroom.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium driven through Playwright (tests marked `browser`)."""
    import shutil

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's async-safety guard does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        from tests.processes import close_broken_connections

        close_broken_connections()  # in the context the test body will run in
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """One browser tab, patient enough for a live server on a busy CI machine."""
    tab = browser.new_page()
    tab.set_default_timeout(15_000)
    return tab


@pytest.fixture(scope="session", autouse=True)
def collected_static(django_test_environment):
    """Pages link hashed static files (whitenoise's manifest), so collect them once per run."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def pytest_sessionfinish(session, exitstatus):
    """On the services leg of CI nothing may skip: a skipped test there hides a broken setup."""
    import os

    if os.environ.get("NEWSROOM_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(
            f"NEWSROOM_FAIL_ON_SKIP=1 but {skipped} test(s) skipped: failing the run.", red=True
        )
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _clean_page_cache():
    """Empty every cache around every test: a page cached by an earlier test ("pages",
    newsroom/pagecache.py) would describe rows that were rolled back, and on_commit invalidation
    never fires inside a test's transaction; rate-limit counters ("default") must not carry over.
    Use django_capture_on_commit_callbacks(execute=True) to test invalidation."""
    from django.core.cache import caches

    for alias in caches:
        caches[alias].clear()
    yield
    for alias in caches:
        caches[alias].clear()


def _run_order(item: pytest.Item) -> int:
    """pytest-django's order (db, transactional, no db), with serialized-rollback tests first
    among the transactional ones."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", [])
    kwargs = marker.kwargs if marker else {}
    transactional = bool(
        kwargs.get("transaction")
        or kwargs.get("reset_sequences")
        or {"transactional_db", "live_server"} & set(fixtures)
    )
    if transactional:
        serialized = kwargs.get("serialized_rollback") or "django_db_serialized_rollback" in fixtures
        return 1 if serialized else 2
    return 0 if marker or "db" in fixtures else 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A serialized-rollback test restores the migrated rows (content types, groups) with their
    # original ids. Once any other transactional test has flushed the database, post_migrate
    # re-creates those rows with new ids and the restore fails on unique keys; so serialized
    # tests run first, while the ids are still the migrated ones. (Runs after pytest-django's
    # own reordering, which is tryfirst; the sort is stable.)
    items.sort(key=_run_order)
