"""README's promises: what an operator copies from it must work as written."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def production_commands() -> list[str]:
    section = README.split("## Operations", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def test_the_production_steps_migrate_and_collect_static_before_serving():
    commands = production_commands()
    first_server = next(i for i, c in enumerate(commands) if c.startswith(("gunicorn", "celery")))
    steps = commands[:first_server]
    assert "python manage.py migrate --noinput" in steps
    assert "python manage.py collectstatic --noinput" in steps
    assert any(re.fullmatch(r"python manage\.py check --deploy.*", step) for step in steps)


def test_the_readme_opens_with_the_two_commands():
    opening = README[:1500]
    assert "make run" in opening and "make test" in opening
