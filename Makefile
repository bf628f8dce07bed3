# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-unit test-browser bench lint migrations venv clean

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

# One line per phase (install, migrate, seed, serve) and the URL last: in the embedded profile a one-time admin
# sign-in link (see the README), else the fleet page.
run:
	@start=$$(date +%s); \
	if $(MAKE) -q --no-print-directory $(VENV)/.serving 2>/dev/null; then state="up to date"; \
	else $(MAKE) -s --no-print-directory $(VENV)/.serving || exit 1; state="installed"; fi; \
	printf '%-9s%s\n' install "$(VENV): requirements.txt $$state, serving only; make test adds the test tools ($$(( $$(date +%s) - start )) s)"
	@exec $(PY) manage.py serve_demo --host $(HOST) --port $(PORT)

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

# 0001 is frozen: schema changes are new, incremental migrations.
migrations: venv
	$(PY) manage.py makemigrations upgrades --noinput

clean:
	rm -rf $(VENV) var
