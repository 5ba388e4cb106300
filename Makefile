# Resolve — developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
MAILIN_PORT ?= 2525
PYTEST_WORKERS ?= 2

# Find a Python 3.12+ interpreter: $(PYTHON) if given, then python3.13/3.12 on PATH,
# then pyenv's installs (the pyenv shims fail unless PYENV_VERSION is set).
BASE_PYTHON := $(shell scripts/find-python)

.PHONY: help run test lint bench migrations-check venv demo clean reliability bench-intake bench-served mutmut

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(BASE_PYTHON)" || { echo "No Python 3.12+ found: install one or set PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv and install everything

# `make run` is the product as users see it: DEBUG off (its own 404/403/500 pages, never
# Django's debug pages), plain HTTP on localhost, and a signing key kept under var/ (made on
# the first run). `DEBUG=true make run` gives Django's debug pages to a developer.
run: export DEBUG ?= false
run: export HTTPS ?= false
run: export SECRET_KEY ?= $(shell $(BASE_PYTHON) scripts/dev-secret-key)
run: venv ## Run the whole product (web, Celery worker and beat) on embedded defaults with demo data
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py seed_demo --force  # the demo, on purpose: DEBUG is off only for its error pages
	@$(PY) manage.py collectstatic --noinput -v0
	@$(PY) manage.py seed_demo_mail --force
	@mkdir -p "$${RESOLVE_VAR_DIR:-var}/mail-in"
	@echo ""
	@echo "  Resolve is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo logins (password resolve-demo): manager, developer, tester, reporter, admin"
	@echo "  Email is written to var/mail/ unless EMAIL_URL is set. Ctrl-C stops everything."
	@echo "  Mail in: SMTP on 127.0.0.1:$(MAILIN_PORT), or drop .eml files into var/mail-in/"
	@echo ""
	@PORT=$(PORT) MAILIN_PORT=$(MAILIN_PORT) $(VENV)/bin/honcho -f Procfile.dev start

test: venv ## Run the whole test suite
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# mypy checks every app's rules (pyproject.toml [tool.mypy] leaves out pages and commands),
# fully annotated (disallow_untyped_defs) in the apps its overrides list.
lint: venv ## Ruff (lint + format check), bandit, the layering (import-linter) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -ll -c pyproject.toml -r tracker accounts projects issues customfields playbooks workflows notifications boards intake webhooks mailin api bench
	$(VENV)/bin/lint-imports  # the layers: contracts in pyproject.toml
	DEBUG=true $(VENV)/bin/mypy accounts projects issues customfields playbooks workflows notifications reports boards intake webhooks mailin api

migrations-check: venv ## Fail if models changed without a migration
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

# Dashboard sizes for `make bench` (each its own project; seeded once, reused later).
BENCH_DASHBOARD_SIZES ?= 100000 1000000

# The benchmarks run with DEBUG off (as in production); the key only signs nothing that lasts.
bench bench-intake: export SECRET_KEY ?= make-bench-throwaway-key
bench: venv ## All benchmarks on PostgreSQL: served pages, issue pages, SLA sweep, dashboard, intake, SDK ingestion, webhooks, mail in, Markdown (needs DATABASE_URL=postgres://... and REDIS_URL)
	@case "$$DATABASE_URL" in postgres://*|postgresql://*|pgsql://*) ;; \
	  *) echo "make bench measures PostgreSQL: set DATABASE_URL=postgres://user@host:5432/dbname (got '$${DATABASE_URL:-nothing}')."; exit 2;; esac
	@echo "== Served pages through gunicorn, on a database of their own (manage.py bench_served)"
	$(PY) manage.py bench_served $(BENCH_SERVED_ARGS)
	@echo "== Issue pages in-process (manage.py bench)"
	$(PY) manage.py bench $(BENCH_ARGS)
	@echo "== SLA sweep (manage.py bench_sweep)"
	$(PY) manage.py bench_sweep $(BENCH_SWEEP_ARGS)
	@for n in $(BENCH_DASHBOARD_SIZES); do \
	  echo "== Dashboard at $$n issues (manage.py bench_dashboard)"; \
	  $(PY) manage.py bench_dashboard --issues $$n $(BENCH_DASHBOARD_ARGS) || exit 1; \
	done
	@echo "== Intake (manage.py bench_intake)"
	$(PY) manage.py bench_intake $(BENCH_INTAKE_ARGS)
	@echo "== Webhooks (manage.py bench_webhooks; needs REDIS_URL)"
	$(PY) manage.py bench_webhooks $(BENCH_WEBHOOKS_ARGS)
	@echo "== Pathological Markdown against its time budget (manage.py bench_markdown)"
	$(PY) manage.py bench_markdown
	@echo "== Sentry SDK ingestion (manage.py bench_sdk; needs REDIS_URL for its Celery worker)"
	$(PY) manage.py bench_sdk $(BENCH_SDK_ARGS)
	@echo "== The list and the issue page while SDK events stream in (manage.py bench_sdk_pages, on the served pages' database)"
	$(PY) manage.py bench_sdk_pages $(BENCH_SDK_PAGES_ARGS)
	@echo "== Mail in (manage.py bench_mail: SMTP accept rate and time to the committed issue/comment; 10,000-message IMAP backlog through a poller killed halfway)"
	$(PY) manage.py bench_mail $(BENCH_MAIL_ARGS)
	@echo "Figures written to var/bench/*.json"

bench-served: export SECRET_KEY ?= make-bench-throwaway-key
bench-served: venv ## Served pages only (BENCH_SERVED_ARGS="--issues 5000 --requests 20" for a quick look)
	$(PY) manage.py bench_served $(BENCH_SERVED_ARGS)

bench-intake: venv ## Intake events/s through gunicorn (needs DATABASE_URL=postgres://...)
	$(PY) manage.py bench_intake $(BENCH_INTAKE_ARGS)

demo: export DEBUG ?= true
demo: venv ## Load the demo data (idempotent)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py seed_demo_mail

# Mutation testing of the rules ([tool.mutmut] in pyproject.toml); MUTMUT_ARGS selects mutants,
# e.g. MUTMUT_ARGS='"workflows.sla.*"'. `.venv/bin/mutmut browse` shows the survivors.
# mutants/ is made afresh each time: mutmut keeps files it finds there, and a copy left from
# older code (moved or deleted modules) is not the code under test. MUTMUT_CHILDREN runs
# mutants at once (each has its own test database: tests/conftest.py).
MUTMUT_CHILDREN ?= 2
mutmut: venv ## Mutation testing: transitions, SLA clock, access selectors (needs DATABASE_URL=postgres://...)
	@case "$$DATABASE_URL" in postgres://*|postgresql://*) ;; \
	  *) echo "make mutmut runs the rules' tests on PostgreSQL: set DATABASE_URL=postgres://..."; exit 2;; esac
	rm -rf mutants
	RESOLVE_MUTMUT=1 $(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN) $(MUTMUT_ARGS)
	$(VENV)/bin/mutmut results

clean: ## Remove the virtualenv and embedded data under var/
	rm -rf $(VENV) var

reliability: venv ## Fault and load scenarios on own PostgreSQL/Redis/SMTP (RELIABILITY_ARGS=--quick)
	$(PY) reliability/run.py $(RELIABILITY_ARGS)
