# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint ui bench bench-pipeline clean

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

## Speed benchmarks (print figures; run on a quiet machine)
bench: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_codec.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_features.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_quality.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_synth.py

## A full synthetic day (288 files) through the lineage: time, real-time factor, peak memory per stage
bench-pipeline: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py --work $(DATA)/bench

clean:
	rm -rf $(VENV) $(DATA)
