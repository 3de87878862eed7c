# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FIELD_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/field-server init-secrets
	$(BIN)/field-server db upgrade
	$(BIN)/field-server demo --if-empty
	$(BIN)/field-server serve --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.bench_sync --write
	$(BIN)/python -m tests.benchmarks.bench_exports --write
	$(BIN)/python -m tests.benchmarks.bench_figures --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
