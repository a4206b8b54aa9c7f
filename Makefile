# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup run test ui clean

setup:
	@scripts/setup.sh

## run: set up, then materialize the default profile (items → predictions → dbt marts → reports)
run: setup
	benchtrust run --profile $${PROFILE:-default}
	@benchtrust query "select model, benchmark, n_items, accuracy, ci_low, ci_high, ci_method, prompt_spread, report_version from marts.reliability_report where is_latest order by benchmark"
	@benchtrust report

## test: set up, then the whole test suite (unit, contracts, dbt, Dagster, UI, end-to-end)
test: setup
	python -m pytest -q -p no:cacheprovider

ui: setup
	benchtrust ui

clean:
	rm -rf data .cache dbt_project/target dbt_project/logs
