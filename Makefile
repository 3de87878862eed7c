# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FIELD_INSTANCE_PATH ?= $(CURDIR)/instance
# Where `make run` listens: `make run PORT=5001`, `make run HOST=0.0.0.0`.
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint format bench soak screenshots clean

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
	$(BIN)/field-server demo --if-empty --no-hint
	$(BIN)/field-server serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.bench_sync --write
	$(BIN)/python -m tests.benchmarks.bench_exports --write
	$(BIN)/python -m tests.benchmarks.bench_figures --write
	$(BIN)/python -m tests.benchmarks.bench_login_timing --write
	$(BIN)/python -m tests.benchmarks.bench_pages --write
	$(BIN)/python -m tests.benchmarks.bench_app --write

# The long fault run (docs/reliability.md): 100 kills per database, with the link, disk and
# connection faults; its figures go to instance/soak-report.jsonl. Never part of `make test`.
soak: $(VENV)/.installed-dev
	FIELD_SOAK=1 FIELD_SOAK_REPORT=$(CURDIR)/instance/soak-report.jsonl $(BIN)/pytest tests/faults -s $(PYTEST_ARGS)

# The browser tests' screenshots (build/screenshots/, not committed) and the guides' pictures
# made from them (docs/images/guide/ and docs/images/app/, committed; docs/web.md, Tests).
screenshots: $(VENV)/.installed-dev
	$(BIN)/pytest tests/browser --backend sqlite $(PYTEST_ARGS)
	$(BIN)/python -m tests.browser.guide_images

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
