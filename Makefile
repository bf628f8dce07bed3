# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit test-browser bench lint migrations venv clean

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

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests
	$(PY) -m pytest tests/browser

test-unit: venv
	$(PY) -m pytest tests

test-browser: venv
	$(PY) -m pytest tests/browser

bench: venv
	$(PY) -m pytest tests/benchmarks -s -p no:randomly

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The schema is young and unreleased: one initial migration, regenerated from the models.
migrations: venv
	rm -f upgrades/migrations/0*.py
	$(PY) manage.py makemigrations upgrades --noinput

clean:
	rm -rf $(VENV) var
