"""A failing contract stops what depends on it, and nothing else.

Two tiny file benchmarks registered in a temporary config folder: ``good_quiz`` (valid) and ``broken_quiz``
(a mapping that says ``gold_format: index`` over letter answers: three of four records break the gold rule,
each is quarantined with file and row, and the one that survives is not a benchmark — the table-level
quarantine-share expectation fails). Only ``benchmark_items`` partitions are materialized (no model runs):

* through the real ``items_job`` of ``pipelines.definitions.defs``: the broken partition's items never reach
  the lake's read path (no ``lake/items/benchmark=broken_quiz/*.parquet``, no ``LATEST.json``), its blocking
  check failed with a description naming the expectation; the good one is written with its contract version;
* through ``dagster.materialize`` with a probe asset downstream of ``benchmark_items``: the probe is skipped
  for the broken partition and built for the good one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "cases"


@pytest.fixture()
def two_benchmarks(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    for f in (REPO / "config").glob("*.yaml"):
        shutil.copy(f, config / f.name)
    shutil.copy(CASES / "items_ok.jsonl", config / "good.jsonl")
    shutil.copy(CASES / "wrong_gold_format.jsonl", config / "broken.jsonl")
    reg = yaml.safe_load((config / "benchmarks.yaml").read_text())
    reg["benchmarks"]["good_quiz"] = {
        "description": "three valid questions",
        "source": {
            "type": "file",
            "path": "good.jsonl",
            "mapping": {"input": "question", "choices": "choices", "gold": "answer", "subject": "subject"},
        },
        "grid": {"templates": ["mmlu_harness"]},
    }
    reg["benchmarks"]["broken_quiz"] = {
        "description": "letter answers read as indices: most records break the gold rule",
        "source": {
            "type": "file",
            "path": "broken.jsonl",
            "mapping": {
                "input": "question",
                "choices": "choices",
                "gold": "answer",
                "gold_format": "index",
                "subject": "subject",
            },
        },
        "grid": {"templates": ["mmlu_harness"]},
    }
    (config / "benchmarks.yaml").write_text(yaml.safe_dump(reg, sort_keys=False))
    home = tmp_path / "home"
    for k, v in {
        "BENCHTRUST_HOME": home,
        "BENCHTRUST_CONFIG": config,
        "DAGSTER_HOME": home / "dagster_home",
        "BENCHTRUST_LAKE": home / "lake",
        "BENCHTRUST_WAREHOUSE": home / "warehouse" / "benchtrust.duckdb",
    }.items():
        monkeypatch.setenv(k, str(v))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("benchmarks", ["good_quiz", "broken_quiz"])
    return home / "lake", config, instance


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def test_items_job_blocks_the_broken_benchmark_only(two_benchmarks):
    lake, config, instance = two_benchmarks
    from data_contracts import suite_version
    from pipelines.definitions import defs

    job = defs.resolve_job_def("items_job")
    good = job.execute_in_process(instance=instance, partition_key="good_quiz", raise_on_error=False)
    broken = job.execute_in_process(instance=instance, partition_key="broken_quiz", raise_on_error=False)

    # the good branch: written to the read path, LATEST.json records the contract version, check passed
    assert good.success
    assert _check(good, "items_contract").passed
    latest = json.loads((lake / "items" / "benchmark=good_quiz" / "LATEST.json").read_text())
    assert latest["contract_version"] == suite_version("benchmark_items") and latest["n_items"] == 3
    assert (lake / "items" / "benchmark=good_quiz" / f"{latest['dataset_version']}.parquet").exists()

    # the broken branch: nothing on the read path, and the check (what the UI shows) names the problem
    assert not list(lake.glob("items/benchmark=broken_quiz/*")), "no items file and no LATEST.json"
    check = _check(broken, "items_contract")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "ExpectColumnMaxToBeBetween(quarantine_share)" in check.description
    assert "0.75" in check.description  # observed share: three of four records quarantined
    meta = check.metadata
    assert "ExpectColumnMaxToBeBetween(quarantine_share)" in meta["failed_expectations"].value
    assert meta["quarantined_rows"].value == 3 and meta["suite_version"].value == suite_version("benchmark_items")
    # the run's summary (`benchtrust run`) reports it as blocking
    from pipelines.run import failed_checks

    assert any("items_contract" in f and "quarantine_share" in f for f in failed_checks(instance, broken.run_id))
    assert not failed_checks(instance, good.run_id)

    # the rejected items are kept aside for inspection; each quarantined record names file, row and rule
    assert list((lake / "rejected" / "items" / "benchmark=broken_quiz").glob("*.parquet"))
    q = pd.concat(
        pd.read_parquet(p) for p in (lake / "quarantine" / "items" / "benchmark=broken_quiz").glob("*.parquet")
    )
    assert list(q["source_row"]) == [1, 2, 3] and set(q["rule"]) == {"gold_not_in_choices"}
    assert (q["source_file"] == str(config / "broken.jsonl")).all()

    # the items asset's own metadata carries the contract version and the quarantine count
    mats = [e.event_specific_data.materialization for e in broken.get_asset_materialization_events()]
    items_meta = next(m for m in mats if m.asset_key == dg.AssetKey("benchmark_items")).metadata
    assert items_meta["contract_version"].value == suite_version("benchmark_items")
    assert items_meta["quarantined"].value == 3 and items_meta["contract_passed"].value is False


def test_blocking_check_skips_downstream_of_the_broken_partition_only(two_benchmarks):
    lake, _, instance = two_benchmarks
    from assets.items import benchmark_items
    from pipelines.partitions import benchmarks_partitions
    from pipelines.resources import BenchtrustResource

    built: list[str] = []

    @dg.asset(partitions_def=benchmarks_partitions, deps=[benchmark_items.keys_by_output_name["benchmark_items"]])
    def probe(context):
        """Stands in for predictions: anything that reads benchmark_items."""
        built.append(context.partition_key)

    resources = {"benchtrust": BenchtrustResource()}
    runs = {
        key: dg.materialize(
            [benchmark_items, probe], partition_key=key, instance=instance, resources=resources, raise_on_error=False
        )
        for key in ("broken_quiz", "good_quiz")
    }
    assert built == ["good_quiz"], "only the good partition's downstream asset is built"
    materialized = {key: {e.asset_key for e in res.get_asset_materialization_events()} for key, res in runs.items()}
    assert dg.AssetKey("probe") in materialized["good_quiz"]
    assert dg.AssetKey("probe") not in materialized["broken_quiz"]
    assert dg.AssetKey("item_quarantine") in materialized["broken_quiz"]  # the quarantine still materializes
    assert not _check(runs["broken_quiz"], "items_contract").passed
    assert _check(runs["good_quiz"], "items_contract").passed
    assert (lake / "items" / "benchmark=good_quiz" / "LATEST.json").exists()
    assert not (lake / "items" / "benchmark=broken_quiz" / "LATEST.json").exists()


def test_whole_file_failure_names_file_and_rule(two_benchmarks, tmp_path):
    _, config, instance = two_benchmarks
    (config / "broken.jsonl").write_bytes((CASES / "gzip_named_jsonl.jsonl").read_bytes())
    from pipelines.definitions import defs

    res = defs.resolve_job_def("items_job").execute_in_process(
        instance=instance, partition_key="broken_quiz", raise_on_error=False
    )
    assert not res.success
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error.message) + str(failure.event_specific_data.user_failure_data)
    assert "compressed_content" in text and str(config / "broken.jsonl") in text
