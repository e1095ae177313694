"""The settings module: embedded defaults, and a clean `check --deploy` in production shape."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "PRODUCTION": "1",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "news.example.com",
    "SITE_URL": "https://news.example.com",
}


# Variables that would decide the outcome of these tests if the shell running them set them.
DECIDING = ("DEBUG", "PRODUCTION", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "BEHIND_PROXY", "REDIS_URL")
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
