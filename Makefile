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

# Every benchmark on SQLite and PostgreSQL, each writing its section of docs/benchmarks.md,
# then the summary table. The sizes fit the whole in 15 minutes on a 2-core machine (the
# modules' own defaults are larger where that did not fit); other sizes:
# `make bench BENCH_FIGURES="--budget 120"`, and so on for each variable below.
BENCH_SYNC ?= --batches 40
BENCH_EXPORTS ?= --visits 1000000
BENCH_FIGURES ?= --budget 60
BENCH_PAGES ?= --large 1000000 --small 40000
BENCH_LOAD ?= --batches 4
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.benchmarks.bench_sync --backend sqlite $(BENCH_SYNC) --write
	$(BIN)/python -m tests.benchmarks.bench_sync --backend postgresql $(BENCH_SYNC) --write
	$(BIN)/python -m tests.benchmarks.bench_exports $(BENCH_EXPORTS) --write
	$(BIN)/python -m tests.benchmarks.bench_figures $(BENCH_FIGURES) --write
	$(BIN)/python -m tests.benchmarks.bench_login_timing --write
	$(BIN)/python -m tests.benchmarks.bench_pages $(BENCH_PAGES) --write
	$(BIN)/python -m tests.benchmarks.bench_app --write
	$(BIN)/python -m tests.benchmarks.bench_load $(BENCH_LOAD) --write
	$(BIN)/python -m tests.benchmarks.summary --write

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
