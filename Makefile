# The two commands a new user needs: `make demo` and `make test`. Both set up what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TIKTOKEN_CACHE_DIR ?= $(abspath ../shared/tiktoken)

.PHONY: demo test lint venv node clean bench

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
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules

test: $(STAMP) node
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The dataset builder against a bare json.loads + tiktoken pass on 10,000- and 100,000-row exports
# (see benchmarks/README.md); exits non-zero when a target is missed. Takes a few minutes.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_dataset_builder.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
