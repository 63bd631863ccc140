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

.PHONY: run test lint format install demo doctor clean client client-check

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

lint: install ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: ## Lint, compile the TypeScript client, then every test: unit, integration and e2e
	$(DOCTOR) --quiet --for test
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory client-check
	$(PY) -m pytest $(PYTEST_ARGS)

TS := clients/typescript
client-check: ## Install the pinned TypeScript toolchain (npm ci) and compile the client with tsc --strict
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: the TypeScript client needs Node.js 20+ (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	cd $(TS) && npx --no-install tsc --strict -p tsconfig.json

client: install ## After an API change: snapshot the OpenAPI documents and regenerate the client's types
	$(PY) -m scripts.client

demo: install ## Scripted walkthrough against a running `make run`
	$(PY) -m scripts.demo

clean:
	rm -rf .run .pytest_cache .ruff_cache .hypothesis
