# Everything a developer or CI runs. `make test` is the whole check: it installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup servers test test-fast e2e lint format render plan bench clean

help:
	@echo "make test            everything: lint, mocked stack tests, integration tests on real servers"
	@echo "make test-fast       mocked and unit tests only (no servers)"
	@echo "make e2e             the local stack on Docker, end to end (needs Docker, the Pulumi CLI, psql)"
	@echo "make lint            ruff and mypy"
	@echo "make render STACK=dev  write the task's files to out/STACK"
	@echo "make plan STACK=dev    offline plan with a cost estimate"
	@echo "make bench           sidecar round-trip cost and storage growth"

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

# PostgreSQL 15 with pg_cron and PgBouncer >= 1.21 for the integration tests (cached).
servers:
	@PLANO_PGBOUNCER=$$(scripts/ensure-test-servers.sh | tail -1) && echo "pgbouncer: $$PLANO_PGBOUNCER"

test: setup lint
	PLANO_PGBOUNCER=$$(scripts/ensure-test-servers.sh | tail -1) $(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not integration"

# The local stack for real: pulumi up --stack local, multi-turn state through Plano, restarts,
# pulumi destroy (tests/e2e). Fails, rather than skips, where Docker or the Pulumi CLI is missing.
e2e: setup
	PLANO_E2E_REQUIRED=1 $(PY) -m pytest -m e2e tests/e2e -p no:cacheprovider

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy components
	$(PY) -m mypy --explicit-package-bases policy

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

render: setup
	$(PY) -m components render --stack $(STACK) --out out/$(STACK)

plan: setup
	$(PY) -m components plan --stack $(STACK)

bench: setup servers
	PLANO_PGBOUNCER=$$(scripts/ensure-test-servers.sh | tail -1) $(PY) scripts/bench.py

clean:
	rm -rf $(VENV) .cache out .pytest_cache .mypy_cache .ruff_cache
