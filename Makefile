# Grace Period — run `make help` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
# uv from PATH, else the copy bootstrap installed with pip (reachable even before a pyenv rehash).
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: bootstrap
bootstrap: ## Install what is missing: uv, Python deps, rabbitmq-server, haproxy, chromium, FerretDB, Dex
	@scripts/bootstrap.sh

.PHONY: lock
lock: ## Re-resolve uv.lock after changing a pyproject.toml
	$(UV) lock

.PHONY: fmt
fmt: ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: lint
lint: ## ruff (lint + format check) and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy libs/contracts/src libs/runtime/src services/*/src tools/*/src tests

.PHONY: test
test: bootstrap lint ## The test command: lint, type-check and the whole suite against real servers
	$(RUN) pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: ## Only tests that need no server
	$(RUN) pytest -m "not integration and not browser and not chaos" $(PYTEST_ARGS)

.PHONY: run
run: bootstrap ## Start the whole local stack in the background and print where everything listens
	$(RUN) python -m graceperiod.devstack.local up

.PHONY: stop
stop: ## Stop what `make run` started
	$(RUN) python -m graceperiod.devstack.local down

.PHONY: status
status: ## Show what the local stack is running
	$(RUN) python -m graceperiod.devstack.local status

.PHONY: demo
demo: ## Publish a demo purchase.executed to the running stack
	$(RUN) python -m graceperiod.devstack.local demo

.PHONY: docs
docs: ## Write the AsyncAPI and OpenAPI documents and the configuration reference into docs/
	$(RUN) python -m graceperiod.devstack.local docs
	$(RUN) python -m graceperiod.devstack.local.config_reference

.PHONY: screenshots
screenshots: ## Screenshots of every gateway page and email variant into docs/screenshots/ (Debian's Chromium)
	$(RUN) python -m graceperiod.devstack.screenshots.dashboard
	$(RUN) python -m graceperiod.devstack.screenshots.email_preview --out var/preview
	$(RUN) python -m graceperiod.devstack.screenshots.emails var/preview/*.html --out docs/screenshots --prefix email-

BENCH_ARGS ?=

.PHONY: bench
bench: bootstrap ## Benchmarks against real local servers, issue 15's targets checked (results and plots in var/bench/)
	$(RUN) python -m graceperiod.devstack.bench $(BENCH_ARGS)

CHAOS_ARGS ?=

.PHONY: chaos
chaos: bootstrap ## Fault-injection scenarios, long sizes (CHAOS_ARGS="--soak" adds the 10-min soak; "--short" the CI sizes)
	$(RUN) python -m graceperiod.devstack.chaos --doc docs/reliability.md --cluster-doc docs/operations.md $(CHAOS_ARGS)

.PHONY: clean
clean: ## Remove caches and local state (var/); keeps .local/ (the FerretDB build)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
