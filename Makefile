# Attain: `make run` starts the stack locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DB ?= sqlite
PYTEST_ARGS ?=

# The prerequisite check runs with the system python (stdlib only), before .venv exists.
DOCTOR = @command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: Attain needs Python 3.11-3.13 (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }; $(PYTHON) -m scripts.doctor --python $(PYTHON)

.PHONY: run test test-fast lint format install demo doctor bench clean kafka client client-check

$(STAMP): pyproject.toml
	@echo "Installing the project into $(VENV) (takes a minute the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its test tools

doctor: ## Check the tools every command needs; name what is missing and how to install it
	$(DOCTOR)

# Checked first, then installed: a missing tool is named before pip or a server starts.
run: ## Start broker + goals, performance, feedback on ATTAIN_PORT_BASE.. (8001-8003)
	$(DOCTOR) --quiet --for run $(if $(filter postgres,$(DB)),--for postgres)
	@$(MAKE) -s --no-print-directory install
	$(PY) -m scripts.run --db $(DB)

lint: install ## ruff lint and format check, mypy (strict on shared/ and services/, migrations aside)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

kafka: install ## Copy the pinned Apache Kafka jars from Maven Central (cached; needs java and mvn)
	$(PY) -m devtools.kafka fetch

test: ## Lint, compile the TypeScript client, then every test: unit, integration and e2e (tansu and Apache Kafka, SQLite, PostgreSQL)
	$(DOCTOR) --quiet --for test
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory client-check
	@$(MAKE) --no-print-directory kafka
ifeq ($(strip $(PYTEST_ARGS)),)
	@# Two processes: the suites mostly wait on brokers and services, so on 2 cores the Apache
	@# Kafka half (-m kafka) overlaps the rest instead of adding its ~7 minutes to them.
	@mkdir -p .run; \
	$(PY) -m pytest -m kafka -p no:cacheprovider > .run/pytest-kafka.log 2>&1 & kafka=$$!; \
	$(PY) -m pytest -m "not kafka"; rest=$$?; \
	wait $$kafka; kafka_rc=$$?; \
	echo "----- the Apache Kafka tests (pytest -m kafka, run alongside; log in .run/pytest-kafka.log)"; \
	cat .run/pytest-kafka.log; \
	test $$rest -eq 0 -a $$kafka_rc -eq 0
else
	$(PY) -m pytest $(PYTEST_ARGS)
endif

test-fast: install ## The unit tier only (pytest -m unit): pure rules and fakes, no servers
	$(PY) -m pytest -m unit -q $(PYTEST_ARGS)

TS := clients/typescript
client-check: ## Install the pinned TypeScript toolchain (npm ci) and compile the client with tsc --strict
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: the TypeScript client needs Node.js 20+ (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	cd $(TS) && npx --no-install tsc --strict -p tsconfig.json

client: install ## After an API change: snapshot the OpenAPI documents and regenerate the client's types
	$(PY) -m scripts.client

demo: install ## Scripted walkthrough against a running `make run`
	$(PY) -m scripts.demo

bench: install ## Ingest, consumer, attainment page, intake (processor, lag, 50k import), org loop vs same-run baselines
	@command -v wrk >/dev/null || { echo "make bench needs wrk for the ingest figure (Debian: apt-get install wrk)" >&2; exit 1; }
	$(PY) bench/bench_webhook_ingest.py --seconds 10
	$(PY) bench/bench_webhook_ingest.py --seconds 10 --db postgres --workers 2
	$(PY) bench/bench_plumbing.py
	$(PY) bench/bench_intake.py
	$(PY) bench/bench_org_loop.py

clean:
	rm -rf .run .pytest_cache .ruff_cache .mypy_cache .hypothesis
