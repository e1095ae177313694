"""The settings module: embedded defaults, a clean `check --deploy` in production shape, and the
mailer EMAIL_URL names."""

from __future__ import annotations

import json
import os
import secrets
import smtplib
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import mailers, send_mail
from django.core.mail.backends import console, dummy, filebased, locmem, smtp

from newsroom.settings import _mailer

PRODUCTION_ENV = {
    "PRODUCTION": "1",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "news.example.com",
    "SITE_URL": "https://news.example.com",
    "EMAIL_URL": "smtp+tls://mailer:s3cret@smtp.example.com:587",
}


# Variables that would decide the outcome of these tests if the shell running them set them.
DECIDING = (
    "DEBUG",
    "PRODUCTION",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "BEHIND_PROXY",
    "REDIS_URL",
    "EMAIL_URL",
)
DECIDING_PREFIXES = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_")


def run_python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run Python in the project with the settings read from `env` alone, not this shell."""
    clean = {k: v for k, v in os.environ.items() if k not in DECIDING and not k.startswith(DECIDING_PREFIXES)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "newsroom.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, env=env)


# A plain-HTTP request for robots.txt (no database, no template) and the cookie settings.
HTTP_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
response = Client().get("/robots.txt", HTTP_HOST=settings.ALLOWED_HOSTS[0])
print(json.dumps({
    "status": response.status_code,
    "location": response.get("Location", ""),
    "hsts": response.get("Strict-Transport-Security", ""),
    "secure_cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
}))
"""


def plain_http_request(env: dict[str, str]) -> dict:
    result = run_python("-c", HTTP_PROBE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_no_issues_with_the_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_production_whose_email_would_only_be_printed():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "EMAIL_URL"}
    result = run_manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    env.pop("SECRET_KEY")
    result = run_manage("check", env={k: v for k, v in env.items()})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_anthropic_backend_without_a_key_fails_loudly_at_start_up():
    result = run_manage("check", env={"SUMMARY_BACKEND": "anthropic", "ANTHROPIC_API_KEY": ""})
    assert result.returncode != 0
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_https_only_settings_stay_off_outside_production():
    # `make run`, tests and benchmarks serve plain HTTP on loopback: no redirect, no HSTS,
    # and cookies a plain-HTTP browser will send back.
    local = plain_http_request(env={})
    assert local == {"status": 200, "location": "", "hsts": "", "secure_cookies": [False, False]}


def test_production_sends_plain_http_to_https_and_marks_cookies_secure():
    production = plain_http_request(env=PRODUCTION_ENV)
    assert production["status"] == 301
    assert production["location"] == "https://news.example.com/robots.txt"
    assert production["secure_cookies"] == [True, True]


def test_the_celery_settings_never_lose_a_task_to_a_dead_worker():
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_a_tdm_reservation_other_than_0_or_1_or_a_relative_hub_fails_loudly_at_start_up():
    result = run_manage("check", env={"TDM_RESERVATION": "yes"})
    assert result.returncode != 0 and "TDM_RESERVATION" in result.stderr
    result = run_manage("check", env={"WEBSUB_HUB_URL": "hub.example.net"})
    assert result.returncode != 0 and "WEBSUB_HUB_URL" in result.stderr


# The default mailer as Django builds it from MAILERS: its backend and what it connects to.
MAILER_PROBE = """
import json
from django.core.mail import mailers
mailer = mailers.default
print(json.dumps({"backend": type(mailer).__module__, **{
    name: getattr(mailer, name) for name in ("host", "port", "use_tls", "use_ssl", "username")
    if hasattr(mailer, name)
}}))
"""


def test_email_url_becomes_the_default_mailer_without_a_deprecation_warning():
    # -W error: a settings module that still sets EMAIL_BACKEND & co. fails here.
    probe = ("-W", "error::DeprecationWarning", "-W", "error::PendingDeprecationWarning", "-c", MAILER_PROBE)
    result = run_python(*probe, env={"EMAIL_URL": "smtp+tls://mailer:s3cret@smtp.example.com:587"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "backend": "django.core.mail.backends.smtp",
        "host": "smtp.example.com",
        "port": 587,
        "use_tls": True,
        "use_ssl": False,
        "username": "mailer",
    }
    result = run_python(*probe, env={})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"backend": "django.core.mail.backends.console"}


def test_a_malformed_email_url_fails_loudly_at_start_up_without_showing_the_password():
    result = run_manage("check", env={"EMAIL_URL": "smtp://mailer:s3cret@smtp.example.com:submission"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: EMAIL_URL is malformed" in result.stderr
    assert "s3cret" not in result.stderr


NO_LOGIN = {"username": None, "password": None}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mailer:s3cret@mail.example.com:2525",
            {"host": "mail.example.com", "port": 2525, "use_tls": False, "use_ssl": False}
            | {"username": "mailer", "password": "s3cret"},
        ),
        (
            "smtp+tls://mailer:s3cret@smtp.example.com:587",
            {"host": "smtp.example.com", "port": 587, "use_tls": True, "use_ssl": False}
            | {"username": "mailer", "password": "s3cret"},
        ),
        # smtps:// is STARTTLS too (django-environ's reading), not TLS from the first byte.
        (
            "smtps://smtp.example.com:587",
            {"host": "smtp.example.com", "port": 587, "use_tls": True, "use_ssl": False} | NO_LOGIN,
        ),
        (
            "smtp+ssl://news%40example.com:p%2Fw%3F@smtp.example.com:465",
            {"host": "smtp.example.com", "port": 465, "use_tls": False, "use_ssl": True}
            | {"username": "news@example.com", "password": "p/w?"},
        ),
        # Without a host: localhost. Without a port: the scheme's standard one.
        ("smtp://", {"host": "localhost", "port": 25, "use_tls": False, "use_ssl": False} | NO_LOGIN),
        (
            "smtp+tls://mail.example.com",
            {"host": "mail.example.com", "port": 587, "use_tls": True} | NO_LOGIN,
        ),
        ("smtp+ssl://[::1]", {"host": "::1", "port": 465, "use_tls": False, "use_ssl": True} | NO_LOGIN),
    ],
)
def test_an_smtp_email_url_names_the_host_port_tls_and_login(settings, url, expected):
    settings.MAILERS = {"default": _mailer(url)}
    mailer = mailers.default
    assert type(mailer) is smtp.EmailBackend
    assert {name: getattr(mailer, name) for name in expected} == expected
    assert mailer.timeout == 10.0


def test_a_mail_server_that_stops_answering_fails_the_email_within_the_timeout(settings):
    # A listener that accepts the connection and never says a word (no SMTP greeting).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        settings.MAILERS = {"default": _mailer(f"smtp://127.0.0.1:{port}", timeout=0.5)}
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("consolemail://", console.EmailBackend),
        ("memorymail://", locmem.EmailBackend),
        ("dummymail://", dummy.EmailBackend),
    ],
)
def test_a_development_email_url_names_its_backend(settings, url, backend):
    settings.MAILERS = {"default": _mailer(url)}
    assert type(mailers.default) is backend


def test_a_filemail_url_writes_into_the_directory_after_its_third_slash(settings, tmp_path):
    settings.MAILERS = {"default": _mailer(f"filemail:///{tmp_path}")}
    mailer = mailers.default
    assert type(mailer) is filebased.EmailBackend
    assert mailer.file_path == str(tmp_path)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("", "must start with one of"),
        ("mail.example.com", "must start with one of"),
        ("sendgrid://mailer:s3cret@api.example.com", "must start with one of"),
        ("smtp://mailer:s3cret@smtp.example.com:submission", "malformed"),
        ("smtp://mailer:s3cret@smtp.example.com:70000", "malformed"),
        ("smtp://mailer:s3cret@smtp.example.com:587?timeout=10", "no ?options"),
        ("smtp://mailer:s3cret#1@smtp.example.com:587", "no ?options"),
        ("filemail://", "needs a directory"),
    ],
)
def test_an_email_url_that_would_be_misread_is_refused(url, complaint):
    with pytest.raises(ImproperlyConfigured, match="^EMAIL_URL ") as refusal:
        _mailer(url)
    assert complaint in str(refusal.value)
    assert "s3cret" not in str(refusal.value)
