"""The settings module: embedded defaults, and a clean `check --deploy` in production shape."""

from __future__ import annotations

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


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "PRODUCTION", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    # `make run`, tests and benchmarks serve plain HTTP on loopback.
    if os.environ.get("PRODUCTION"):
        return
    assert not settings.SECURE_SSL_REDIRECT
    assert not settings.SESSION_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0


def test_the_celery_settings_never_lose_a_task_to_a_dead_worker():
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
