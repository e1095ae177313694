"""Newsletter fixtures: a digest-ready story, settings for loopback fakes, an SMTP server.

Subscribers and articles are built by tests/factories.py.
"""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache

from tests.factories import publish


@pytest.fixture(autouse=True)
def _eager(eager_celery):
    """Tasks run in-process here even on the Redis leg: these tests check what a task does."""


@pytest.fixture(autouse=True)
def newsletter_settings(settings):
    settings.SITE_URL = "https://news.example.org"
    # Loopback fakes are on 127.0.0.1; the fetcher's private-address guard must allow them.
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.LINE_CHANNEL_ACCESS_TOKEN = "test-channel-token"
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def todays_story(db):
    return publish(title="Council approves the light-rail line")


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts; it refuses bounce@ addresses."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.sessions: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        self.sessions.append(session)  # kept alive, so id() tells connections apart
        return "250 Message accepted for delivery"


def loopback_mailer(port: int) -> dict:
    """Plain SMTP to 127.0.0.1:`port`, no login, and a test that cannot hang on it."""
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
    }


@pytest.fixture
def smtp_server(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": loopback_mailer(port)}
    yield inbox
    controller.stop()
