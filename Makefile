# The two commands a new user needs: `make demo` and `make test`. Both set up what they need first.
# Prerequisites: python3 (3.11+), make, npm, and access to the package registries (PyPI, npm). Nothing else:
# the token encoding and the OpenAI API specification the tests use ship in this repository.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs a second time with the wall clock this many days ahead: no test may depend on today's date.
CLOCK_OFFSET_DAYS ?= 366

# `make package`: the SAM CLI in its own venv (it pins its own boto3), and the functions' interpreter.
SAM_VENV := .sam
SAM ?= $(SAM_VENV)/bin/sam
LAMBDA_PYTHON ?= python3.13
export LAMBDA_PYTHON

.PHONY: demo test lint typecheck unit integration e2e test-later venv node clean bench package docs

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

# docs/configuration.md and docs/project-config.schema.json from the project configuration's schema (tests/test_docs.py
# fails when they are stale).
docs: $(STAMP)
	$(BIN)/python -m labeltune_tools.config_docs

lint: $(STAMP) node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite in three tiers (tests/conftest.py): `unit` takes seconds, `integration` and `e2e` minutes.
unit: $(STAMP)
	$(BIN)/python -m pytest -q -m unit

integration: $(STAMP) node
	$(BIN)/python -m pytest -q -m integration

e2e: $(STAMP) node
	$(BIN)/python -m pytest -q -m e2e

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

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

# `sam build` (functions/Makefile, layers/Makefile: wheels for python3.13 on arm64, bytecode compiled), then the
# unzipped and zipped size of every function with its layers; exits non-zero when a size target is missed
# (tools/labeltune_tools/packaging.py). Needs python3.13 on PATH (pyenv: PYENV_VERSION=3.13.x make package) or
# LAMBDA_PYTHON naming it; SAM=<path> uses an installed SAM CLI instead of .sam/.
package: $(STAMP) $(if $(filter $(SAM_VENV)/bin/sam,$(SAM)),$(SAM_VENV)/bin/sam)
	@command -v $(LAMBDA_PYTHON) >/dev/null 2>&1 || { echo "make package: $(LAMBDA_PYTHON) is not on PATH; sam build needs the functions' Python 3.13 (pyenv: PYENV_VERSION=3.13.x make package, or LAMBDA_PYTHON=/path/to/python3.13)" >&2; exit 2; }
	$(SAM) build
	$(BIN)/python -m labeltune_tools.packaging .aws-sam/build

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache
