# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup run lint test ui clean

setup:
	@scripts/setup.sh

## run: set up, then materialize the default profile (items → predictions → dbt marts → reports)
## (the command itself ends with the summary table and the report paths; -v / --log-file for Dagster's event stream)
run: setup
	benchtrust run --profile $${PROFILE:-default}

## lint: ruff (lint + format check), mypy on benchtrust/ (strict on the public modules), sqlfluff on the dbt project
## (settings: pyproject.toml [tool.ruff] / [tool.mypy], dbt_project/.sqlfluff); each step prints its time
lint: setup
	@set -e; step() { local t0=$$SECONDS; "$$@" || { echo "lint FAILED: $$*"; exit 1; }; \
	  echo "lint ok ($$((SECONDS - t0)) s): $$*"; }; t=$$SECONDS; \
	step ruff check --quiet .; \
	step ruff format --check .; \
	step mypy; \
	step env PYTHONWARNINGS=ignore::UserWarning sqlfluff lint dbt_project --processes 2 --disable-progress-bar --quiet; \
	echo "lint: all clean in $$((SECONDS - t)) s"

## test: set up, lint, then the whole test suite (unit, contracts, dbt, Dagster, UI, end-to-end)
test: setup lint
	python -m pytest -q -p no:cacheprovider --durations=15

ui: setup
	benchtrust ui

clean:
	rm -rf data .cache dbt_project/target dbt_project/logs
