# Newsroom: `make run` serves the demo site, `make test` runs the suite. Nothing else is needed.
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint format migrations-check worker beat bench bench-db bench-ingest bench-stories bench-followups bench-summaries bench-summary-cost bench-http bench-digest load clean wrk

$(STAMP): requirements.txt requirements-dev.txt
	PYENV_VERSION=$${PYENV_VERSION:-3.13.0} $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Newsroom is running at http://127.0.0.1:8000/"
	@echo "  Desk (admin):  http://127.0.0.1:8000/admin/  editor@newsroom.test / newsroom-editor"
	@echo "  Reader login:  reader@newsroom.test / newsroom-reader"
	@echo ""
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: install
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m pytest $(PYTEST_ARGS)

# Skips the slow browser and fault tests, for a quick local loop.
test-fast: install
	$(PY) -m pytest -m "not browser and not faults" $(PYTEST_ARGS)

# The Nu HTML Checker for tests/test_html_validity.py: vnu.jar from npm, run by the system's
# Java (Debian: default-jre-headless). The package's install script, which would download a
# Java of its own, is skipped.
VNU_VERSION := 26.9.27
VNU_STAMP := .ci/vnu/.installed-$(VNU_VERSION)
.PHONY: validator
validator: $(VNU_STAMP)

$(VNU_STAMP):
	npm install --prefix .ci/vnu --ignore-scripts --no-audit --no-fund --loglevel=error vnu-jar@$(VNU_VERSION)
	touch $(VNU_STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

worker: install
	$(VENV)/bin/celery -A newsroom worker -Q default,ingest -l info

# Summaries: I/O-bound model calls on their own queue, a threads pool with high concurrency,
# prefetch 1 so a slow call never holds other articles hostage.
.PHONY: worker-summaries
worker-summaries: install
	$(VENV)/bin/celery -A newsroom worker -Q summaries -P threads -c 16 --prefetch-multiplier 1 -n summaries@%h -l info

beat: install
	$(VENV)/bin/celery -A newsroom beat -l info

# Benchmarks measure the production shape: PostgreSQL + Redis (defaults: this machine's servers).
BENCH_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/newsroom_bench} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/13}

# The default benchmark database is created on first use (a DATABASE_URL you set must exist).
bench-db:
	@[ -n "$$DATABASE_URL" ] || createdb -h 127.0.0.1 -U postgres newsroom_bench 2>/dev/null || true

bench-ingest: install bench-db
	$(BENCH_ENV) $(PY) bench/ingest.py

bench-stories: install bench-db
	$(BENCH_ENV) $(PY) bench/stories.py

bench-followups: install bench-db
	$(BENCH_ENV) $(PY) bench/followups.py

bench-summaries: install bench-db
	$(BENCH_ENV) $(PY) bench/summaries.py

# Model calls and dollars per 100 articles with and without story summaries: in-process, on
# SQLite in memory, against the fake Messages API; needs the shared fixtures.
bench-summary-cost: install
	$(PY) bench/summaries.py --cost

# bench/http.py loads the site with wrk (Debian's package) from a separate process; without
# it, it falls back to an in-process httpx client that saturates first (ratios near 1x).
wrk:
	@command -v wrk >/dev/null || (apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)) \
		|| echo "wrk could not be installed: bench/http.py falls back to httpx"

bench-http: install bench-db wrk
	$(BENCH_ENV) $(PY) bench/http.py

bench-digest: install bench-db
	$(BENCH_ENV) $(PY) bench/digest.py

bench: install bench-db wrk
	$(BENCH_ENV) $(PY) bench/run_all.py

load: install
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache db.sqlite3
