# Everything a developer or CI runs. `make test` is the whole check: it installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
# Bytecode is written (next to the sources, in __pycache__, which git ignores), even where the
# environment says not to: without it every pytest worker and every tool run compiled the project's
# sources and rewrote the tests' assertions again, seconds per process.
export PYTHONDONTWRITEBYTECODE :=
# Plano generator verdicts (core/plano_validator.py) cached in the checkout for the tests and tools.
export PLANO_VALIDATOR_CACHE ?= $(CURDIR)/.cache/plano-validator

.PHONY: help setup servers test test-fast bench-tests e2e lint format render plan pin-images bench refresh-prices clean

help:
	@echo "make help            this list"
	@echo "make setup           .venv with the pinned dependencies (other targets run it when needed)"
	@echo "make servers         install the integration test servers (apt-get as root or via sudo)"
	@echo "make test            everything: lint, mocked stack tests, integration tests on real servers"
	@echo "make test-fast       mocked and unit tests only (no servers, no lint, no commands run as processes)"
	@echo "make bench-tests     print how long make test-fast and make test take (warm; cold when caches are missing)"
	@echo "make e2e             the local stack on Docker, end to end (needs Docker, the Pulumi CLI, psql)"
	@echo "make lint            ruff and mypy"
	@echo "make format          ruff format and autofix"
	@echo "make render STACK=dev  write the task's files to out/STACK"
	@echo "make plan STACK=dev    offline plan with warnings and a cost estimate"
	@echo "make pin-images STACK=prod  pin the stack's images by digest (needs the registries)"
	@echo "make bench           sidecar round-trip cost and storage growth"
	@echo "make refresh-prices  refresh the price table: AWS's Price List Query API (aws CLI, credentials)"
	@echo "make clean           remove .venv, .cache, out and tool caches"

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

# PostgreSQL 15 with pg_cron and PgBouncer >= 1.21 for the integration tests (cached).
# Installs with apt-get as root (through sudo when not root): see scripts/ensure-test-servers.sh.
servers:
	@scripts/with-test-servers.sh sh -c 'echo "pgbouncer: $$PLANO_PGBOUNCER"'

# A failed server install fails the run under CI=true; elsewhere the integration tests skip loudly.
# --docker: also the Docker engine tests' images (scripts/ensure-test-images.sh), same rule.
# pytest-xdist: one worker per core computes while three carry the tests that mostly wait (the
# Docker engine test, half a minute of health checks; the integration tests that wait on servers'
# timeouts). tests/scheduling.py keeps those waits on at most three workers, and
# tests/integration/conftest.py schedules them first, then the tests that run processes (seconds
# each); the outage scenarios run in pytest-xdist's controller (tests/integration/outage_host.py).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 3 )))

# The e2e (Docker engine, Pulumi CLI, Plano's image from its registry) runs only in `make e2e`.
test: setup lint
	scripts/with-test-servers.sh --or-skip --docker $(PY) -m pytest -n $(PYTEST_WORKERS) --maxschedchunk 2 -m "not e2e"

# The mocked tests only: the tests marked `processes` (make, the shell scripts, the CLIs run as
# processes, the wheel install) start an interpreter or a shell each, most of the suite's time; make test runs them.
test-fast: setup
	$(PY) -m pytest -n auto -m "not integration and not e2e and not processes"

# The suite's own times (scripts/bench-tests.sh): printed, not asserted.
bench-tests:
	scripts/bench-tests.sh

# The local stack for real: pulumi up --stack local, multi-turn state through Plano, restarts,
# pulumi destroy (tests/e2e). Fails, rather than skips, where Docker or the Pulumi CLI is missing.
e2e: setup
	PLANO_E2E_REQUIRED=1 $(PY) -m pytest -m e2e tests/e2e -p no:cacheprovider

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy components/plano_pulumi components/plano_tools
	$(PY) -m mypy --explicit-package-bases policy

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

render: setup
	$(PY) -m plano_tools render --stack $(STACK) --out out/$(STACK)

plan: setup
	$(PY) -m plano_tools plan --stack $(STACK)

pin-images: setup
	$(PY) -m plano_tools pin-images --stack $(STACK)

bench: setup
	scripts/with-test-servers.sh $(PY) scripts/bench.py

# The Query API asks for the few products priced (aws CLI and credentials); REFRESH_PRICES_ARGS=
# (empty) reads the public bulk files instead (no credentials, ~100 MB for RDS).
REFRESH_PRICES_ARGS ?= --query-api
refresh-prices: setup
	$(PY) scripts/refresh_prices.py $(REFRESH_PRICES_ARGS)

clean:
	rm -rf $(VENV) .cache out .pytest_cache .mypy_cache .ruff_cache
	find components policy scripts tests -name __pycache__ -prune -exec rm -rf {} +
