# oncoresist: `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
OUT    := data/processed
export OMP_WAIT_POLICY ?= PASSIVE

.DEFAULT_GOAL := help
.PHONY: help install dev run test lint format bench clean report validate

## Show this help
help:
	@awk 'BEGIN {FS = ":.*"} /^## / {desc = substr($$0, 4); next} /^[a-zA-Z_-]+:/ && desc {printf "  \033[36m%-10s\033[0m %s\n", $$1, desc; desc = ""}' $(MAKEFILE_LIST)

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

## Create .venv and install the package
install: $(VENV)/.installed

## Install the package with the development extras (pytest, ruff, hypothesis, nbclient)
dev: $(VENV)/.dev-installed

## Main job on the embedded default data: validate demo, simulate, train, promote, score, report
run: $(VENV)/.installed
	$(BIN)/oncoresist run --out $(OUT)

## Lint, check formatting, check the layer contracts (import-linter) and run the test suite
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q

## Fix lint and formatting in place
format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Review report of the demo profiles with the exported champion (after `make run`)
report: $(VENV)/.installed
	$(BIN)/oncoresist report --model models/oncoresist-champion --input data/demo/profiles.csv --out reports/demo.html --overwrite

## Run the benchmark scripts (print tables; not part of the tests)
bench: $(VENV)/.dev-installed
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## Regenerate docs/validation.md on real public data (not part of make test)
validate: $(VENV)/.installed
	$(BIN)/oncoresist benchmark survival
	$(BIN)/oncoresist datasets fetch gdsc
	$(BIN)/oncoresist benchmark gdsc

## Remove generated data, models, reports and the local MLflow store (keeps .venv)
clean:
	rm -rf $(OUT) reports/*.html mlruns/mlflow.db mlruns/artifacts models/oncoresist*
