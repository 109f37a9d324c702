# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint ui bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Build the venv, write the synthetic demo archive and run the whole lineage on it.
demo: $(STAMP)
	$(BIN)/aco demo --data $(DATA)

## Run the test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Start the Dagster UI on 127.0.0.1:3000 with the persistent instance under $(DATA)/dagster_home.
ui: $(STAMP)
	$(BIN)/aco ui --data $(DATA)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_codec.py

clean:
	rm -rf $(VENV) $(DATA)
