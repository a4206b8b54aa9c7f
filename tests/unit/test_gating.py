"""`--fail-on red|amber` reads the verdicts of the latest written reports (pipelines.gating) on a real DuckDB
warehouse and real report.json files."""

from __future__ import annotations

import json

import duckdb
import pytest

from benchtrust.report.paths import report_folder
from pipelines.gating import verdict_failures


def _verdict(audit: str, status: str) -> dict:
    return {"audit": audit, "status": status, "shown": "12.0 points", "rule": f"{status} rule"}


@pytest.fixture()
def folder(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute(
        "create table marts.reliability_report (model varchar, benchmark varchar, report_version varchar, "
        "is_latest boolean)"
    )
    rows = [
        ("m-red", "mmlu", "v2", True, [_verdict("interval", "red"), _verdict("calibration", "green")]),
        ("m-red", "mmlu", "v1", False, [_verdict("interval", "red")]),
        ("m-amber", "mmlu", "v1", True, [_verdict("prompt_spread", "amber"), _verdict("seed", "n/a")]),
        ("m-green", "gsm8k", "v1", True, [_verdict("interval", "green")]),
    ]
    reports = tmp_path / "reports"
    for model, bench, version, latest, verdicts in rows:
        con.execute("insert into marts.reliability_report values (?, ?, ?, ?)", [model, bench, version, latest])
        folder = report_folder(reports, model, bench, version)
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps({"verdicts": verdicts}))
    con.close()
    return wh, reports


def test_red_gate_names_each_red_verdict_of_latest_reports_only(folder):
    wh, reports = folder
    assert verdict_failures(wh, reports, "red") == ["m-red × mmlu: interval is red (12.0 points: red rule)"]


def test_amber_gate_includes_red_and_never_counts_na(folder):
    wh, reports = folder
    out = verdict_failures(wh, reports, "amber")
    assert sorted(out) == [
        "m-amber × mmlu: prompt_spread is amber (12.0 points: amber rule)",
        "m-red × mmlu: interval is red (12.0 points: red rule)",
    ]
    assert not any("n/a" in o or "green" in o for o in out)


def test_gate_limits_to_the_models_and_benchmarks_asked(folder):
    wh, reports = folder
    assert verdict_failures(wh, reports, "red", models=["m-amber", "m-green"]) == []
    assert verdict_failures(wh, reports, "amber", benchmarks=["gsm8k"]) == []


def test_unreadable_report_fails_the_gate_and_unknown_level_is_refused(folder):
    wh, reports = folder
    (report_folder(reports, "m-green", "gsm8k", "v1") / "report.json").write_text("{not json")
    assert verdict_failures(wh, reports, "red", models=["m-green"]) == [
        f"m-green × gsm8k: report {report_folder(reports, 'm-green', 'gsm8k', 'v1') / 'report.json'} unreadable "
        "(JSONDecodeError)"
    ]
    with pytest.raises(ValueError, match="--fail-on takes one of"):
        verdict_failures(wh, reports, "green")
