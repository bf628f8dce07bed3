# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit test-browser bench lint coverage migrations venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) dashboard.asgi:application

# Guard rails first (cheap, and a failure there says more than a failing test), then the two suites.
test: venv lint
	$(PY) -m pytest tests
	$(PY) -m pytest tests/browser

test-unit: venv
	$(PY) -m pytest tests

test-browser: venv
	$(PY) -m pytest tests/browser

bench: venv
	$(PY) -m pytest tests/benchmarks -s -p no:randomly

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

clean:
	rm -rf $(VENV) var
