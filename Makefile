# Nexus Mesh: `make dev` runs the mesh locally, `make test` runs every check CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, runtime and dev, pinned: what CI, `make dev` and the image install, so a
# fresh clone runs with the versions its tests passed with. `make lock` writes it.
LOCK := constraints.txt

.PHONY: dev test lint typecheck schemas-check unit integration e2e bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

DEMO_TESTS := tests/e2e/demo_page

$(STAMP): pyproject.toml $(LOCK) $(DEMO_TESTS)/package-lock.json | $(BIN)/python
	$(BIN)/pip install --quiet --constraint $(LOCK) -e '.[dev]'
	# jsdom and ws, pinned by the lock file, for the demo page's tests (tests/e2e/test_demo_page.py).
	npm ci --prefix $(DEMO_TESTS) --no-audit --no-fund --loglevel=error
	touch $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	$(BIN)/nexus dev

lint: $(STAMP)
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict services

schemas-check: $(STAMP)
	$(BIN)/nexus schemas check

test: lint typecheck schemas-check
	$(BIN)/pytest -q -ra $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python -m bench

# After a change to pyproject.toml's dependencies: keeps every pin that still fits it.
# `make lock UPGRADE=1` moves every pin to the newest release it allows.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet "pip-tools>=7.6,<8"
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra dev --strip-extras \
	  --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
	  --output-file $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(DEMO_TESTS)/node_modules
