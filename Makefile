# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit test-browser test-tools bench lint coverage migrations venv clean run-scaled soak catalogs

PIP_INSTALL := $(PY) -m pip install -q --disable-pip-version-check

$(PY):
	@$(PYTHON) -m venv $(VENV)

# Serving needs requirements.txt only; `make test` (and the other dev targets) add requirements-dev.txt.
$(VENV)/.serving: requirements.txt | $(PY)
	@$(PIP_INSTALL) -r requirements.txt > $(VENV)/pip-install.log 2>&1 || { cat $(VENV)/pip-install.log; exit 1; }
	@touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $(VENV)/.serving $@

venv: $(VENV)/.installed

# Test-only tools from the npm registry, pinned by package-lock.json: axe-core for the browser suite's
# accessibility check. Without npm the check skips with its reason (and fails under CI=true).
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: axe-core is not installed, so tests/browser/test_accessibility.py will skip"; fi

test-tools: node_modules/.package-lock.json

# One line per phase (install, migrate, seed, serve) and the URL last: in the embedded profile a one-time admin
# sign-in link (see the README), else the fleet page.
run:
	@start=$$(date +%s); \
	if $(MAKE) -q --no-print-directory $(VENV)/.serving 2>/dev/null; then state="up to date"; \
	else $(MAKE) -s --no-print-directory $(VENV)/.serving || exit 1; state="installed"; fi; \
	printf '%-9s%s\n' install "$(VENV): requirements.txt $$state, serving only; make test adds the test tools ($$(( $$(date +%s) - start )) s)"
	@exec $(PY) manage.py serve_demo --host $(HOST) --port $(PORT)

# The scale-out profile (README: Scale-out profile): this machine's PostgreSQL and Redis, 2 uvicorn web processes
# behind deploy/front.py on HOST:PORT (the web processes on the next ports), 2 run_worker processes.
SCALED_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/obdash
SCALED_REDIS_URL ?= redis://127.0.0.1:6379/0
run-scaled: $(VENV)/.serving
	@DATABASE_URL=$(SCALED_DATABASE_URL) REDIS_URL=$(SCALED_REDIS_URL) EMBEDDED_WORKER=0 \
		exec $(PY) manage.py serve_scaled --host $(HOST) --port $(PORT)

# Guard rails first (cheap, and a failure there says more than a failing test), then the two suites.
test: venv lint test-tools
	$(PY) -m pytest tests
	$(PY) -m pytest tests/browser

test-unit: venv
	$(PY) -m pytest tests

test-browser: venv test-tools
	$(PY) -m pytest tests/browser

bench: venv
	$(PY) -m pytest tests/benchmarks -s -p no:randomly

# The chaos soak (README: The chaos soak): SOAK_UPGRADES zero-duration upgrades under every kind of fault, on a
# private PostgreSQL and Redis it starts itself (needs the PostgreSQL server binaries and redis-server); prints
# the report and fails on any violation. Pass SOAK_ARGS for more (--seed N, --workers N, --budget SECONDS).
# About 6 upgrades a minute on a busy 2-core machine, so 1,000 take hours there (README: The chaos soak).
SOAK_UPGRADES ?= 1000
SOAK_CLUSTERS ?= 8
SOAK_CHAOS ?= worker-kill,web-kill,redis-restart,pg-cut
soak: $(VENV)/.serving
	$(PY) manage.py soak --upgrades $(SOAK_UPGRADES) --clusters $(SOAK_CLUSTERS) --chaos $(SOAK_CHAOS) $(SOAK_ARGS)

# ruff, the layer contracts (import-linter, pyproject.toml), typed services/selectors/engine (mypy),
# and no model change without its migration.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run

# Line coverage of the suite (not the browser pass, not child server processes).
coverage: venv
	$(PY) -m pytest tests --cov=upgrades --cov=dashboard --cov-report=term:skip-covered

# The schema is released: 0001 is frozen; every model change ships an incremental migration.
migrations: venv
	$(PY) manage.py makemigrations upgrades

# Page, email and script text into locale/zh_Hans (no GNU gettext): lists what has no Chinese yet, compiles the .mo
# once nothing is missing (README: Language and time).
catalogs: venv
	$(PY) manage.py update_catalogs

clean:
	rm -rf $(VENV) var node_modules
