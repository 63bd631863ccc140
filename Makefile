# Attain: `make run` starts the stack locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
DB ?= sqlite
PYTEST_ARGS ?=

.PHONY: run test lint format install demo clean kafka

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its test tools

run: install ## Start broker + goals (8001), performance (8002), feedback (8003)
	$(PY) -m scripts.run --db $(DB)

lint: install ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

kafka: install ## Copy the pinned Apache Kafka jars from Maven Central (cached; needs java and mvn)
	$(PY) -m devtools.kafka fetch

test: install lint kafka ## Lint, then every test: unit, integration and e2e (tansu and Apache Kafka, SQLite, PostgreSQL)
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

demo: install ## Scripted walkthrough against a running `make run`
	$(PY) -m scripts.demo

clean:
	rm -rf .run .pytest_cache .ruff_cache .hypothesis
