# Every target works from a fresh clone: it runs `setup` first when .venv is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The Dagster home comes from prodsprint.yaml / PRODSPRINT_HOME (default .prodsprint/dagster).
DAGSTER_HOME_CMD = $(BIN)/python -c "from prodsprint_dagster.config import load_config; print(load_config().dagster_home)"

.PHONY: setup demo dev test lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/prodsprint init

demo: setup
	$(BIN)/prodsprint demo

dev: setup
	DAGSTER_HOME=$$($(DAGSTER_HOME_CMD)) $(BIN)/dagster dev -w workspace.yaml

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
