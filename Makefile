# Everything runs from a virtualenv at .venv in the checkout, created on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test pytest lint typecheck bench bench-million migrate install clean-data

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the service on the embedded default (PostgreSQL + pgvector, Redis and a worker, all local).
run: $(STAMP)
	$(BIN)/memos serve

## The whole test suite: lint, type check, then pytest on a real embedded PostgreSQL.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

pytest: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/memos migrate

bench: $(STAMP)
	$(BIN)/python bench/ingest_search.py --sizes 10000
	$(BIN)/python bench/locomo.py
	$(BIN)/python bench/consolidation.py
	$(BIN)/python bench/load.py

bench-million: $(STAMP)  # ~1 h on 2 busy cores: 10k through the API, then 1M bulk-loaded (bench/_bulkload.py), same run
	$(BIN)/python bench/ingest_search.py --sizes 10000,1000000 --real 10000

clean-data:
	rm -rf .memos
