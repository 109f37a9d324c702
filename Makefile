# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data
STAMP := $(VENV)/.installed
# `make results`: the real recordings (aco-real/, aco-acoio/, ...) and the folder for its runs.
SOUNDS ?= ../shared/data
RESULTS ?= $(DATA)/results
SEEDS ?= 0 1 2
STEP = $(BIN)/python -m orchestration.studies.steps --timings $(RESULTS)/timings.json

.PHONY: venv demo test test-scale lint ui ui-check bench bench-pipeline results results-check clean

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

## The deployment shape on this machine (docs/deploy.md): a real PostgreSQL (apt-get installs
## it when missing), an S3 server (moto) and a Dask cluster of 2 workers on 127.0.0.1; 3 days of
## the test archive through them, compared row by row with a local run. Stops all it started.
test-scale: $(STAMP)
	$(BIN)/python -m orchestration.checks.scale_check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Start the Dagster UI on 127.0.0.1:3000 with the persistent instance under $(DATA)/dagster_home.
ui: $(STAMP)
	$(BIN)/aco ui --data $(DATA)

## What the Dagster UI shows after a multi-day run, asserted in headless Chromium (installed by
## apt-get when missing): per-day partition pages and check descriptions. Builds a small archive
## in a temporary folder (UI_DATA=DIR keeps it) and prints where the screenshots are.
ui-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
	$(BIN)/python -m orchestration.checks.ui_check $(if $(UI_DATA),--data $(UI_DATA))

## Speed benchmarks (print figures; run on a quiet machine)
bench: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_codec.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_features.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_quality.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_synth.py

## A full synthetic day (288 files) through the lineage: time, real-time factor, peak memory per
## stage; adds it to docs/benchmarks.md and the README's block (run on a quiet machine).
bench-pipeline: $(STAMP)
	$(BIN)/python benchmarks/report.py --work $(RESULTS)/bench --out docs/benchmarks.md --run pipeline
	$(BIN)/python -m orchestration.studies.docs_blocks --results $(RESULTS) --sources benchmarks

## Regenerate every figure and table of README.md and docs/ from the runs below (README:
## "Regenerating the results"). Needs the real recordings in $(SOUNDS).
results: results-check $(STAMP)
	rm -f $(RESULTS)/timings.json
	$(STEP) yardstick --of 1/10 -- $(BIN)/aco yardstick --sounds $(SOUNDS) --work $(RESULTS)/yardstick --seeds $(SEEDS) --out docs/results.md
	$(STEP) model-study --of 2/10 -- $(BIN)/python -m orchestration.studies.model_study --work $(RESULTS)/yardstick --seeds $(SEEDS) --jobs 2 --fresh --out docs/model_results.md
	rm -rf $(RESULTS)/demo
	$(STEP) demo --of 3/10 -- $(BIN)/aco demo --data $(RESULTS)/demo
	$(STEP) demo-results --of 4/10 -- $(BIN)/aco results --data $(RESULTS)/demo --out docs/demo_results.md
	$(STEP) real-sound --of 5/10 -- $(BIN)/python -m aco_assets.scoring.real_sound --shared $(SOUNDS) --data $(RESULTS)/demo --out docs/real_sound.md --note 'Model: the champion of the demo archive (`aco demo`, a step of `make results`).'
	$(STEP) calibration --of 6/10 -- $(BIN)/python -m aco_assets.synth.calibration --real $(SOUNDS) --docs docs
	$(STEP) realistic-describe --of 7/10 -- $(BIN)/aco synth --preset realistic --sounds $(SOUNDS) --describe --docs docs/synthetic_archive.md
	$(STEP) digits --of 8/10 -- $(BIN)/python -m ml.experiments.digits_doc --work $(RESULTS)/digits --seeds $(SEEDS) --out docs/digits.md --figures docs/figures
	$(STEP) benchmarks --of 9/10 -- $(BIN)/python benchmarks/report.py --work $(RESULTS)/bench --out docs/benchmarks.md
	$(STEP) blocks --of 10/10 -- $(BIN)/python -m orchestration.studies.docs_blocks --results $(RESULTS)

results-check:
	$(if $(strip $(RESULTS)),,$(error RESULTS is empty: set RESULTS=DIR, the folder for the runs of make results))
	$(if $(wildcard $(SOUNDS)/.),,$(error make results needs the real recordings: no folder SOUNDS=$(SOUNDS); set SOUNDS=DIR to the folder holding aco-real/ and aco-acoio/ (e.g. make results SOUNDS=../shared/data)))

clean:
	rm -rf $(VENV) $(DATA)
