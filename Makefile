# The two commands a new user needs: `make demo` and `make test`. Both set up what they need first.
# Prerequisites: python3 (3.11+), make, npm, and access to the package registries (PyPI, npm). Nothing else:
# the token encoding and the OpenAI API specification the tests use ship in this repository.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs a second time with the wall clock this many days ahead: no test may depend on today's date.
CLOCK_OFFSET_DAYS ?= 366

.PHONY: demo test lint typecheck unit e2e test-later venv node clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

node: node_modules/.installed

demo: $(STAMP)
	$(BIN)/labeltune demo

lint: $(STAMP) node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" --ignore=tests/e2e

e2e: $(STAMP) node
	$(BIN)/python -m pytest -q tests/e2e

# The whole suite with the clock moved ahead (time-machine): what passes today must pass next year.
test-later: $(STAMP) node
	$(BIN)/python -m pytest -q -p no:cacheprovider --clock-offset-days $(CLOCK_OFFSET_DAYS)

test: $(STAMP) node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-later

# The dataset builder against a bare json.loads + tiktoken pass on 10,000- and 100,000-row exports
# (see benchmarks/README.md); exits non-zero when a target is missed. Takes a few minutes.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_dataset_builder.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache
