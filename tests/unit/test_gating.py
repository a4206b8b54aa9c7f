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


def _cli(home, *args, env_extra=None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, BENCHTRUST_HOME=str(home), **(env_extra or {}))
    repo = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "report", *args], cwd=repo, env=env, capture_output=True, text=True
    )


@pytest.fixture()
def home(tmp_path, folder):
    """A data folder whose warehouse and reports are the ``folder`` fixture's, where the CLI looks for them."""
    wh, reports = folder
    (tmp_path / "home" / "warehouse").mkdir(parents=True)
    wh.rename(tmp_path / "home" / "warehouse" / "benchtrust.duckdb")
    reports.rename(tmp_path / "home" / "reports")
    return tmp_path / "home"


def test_report_cli_fail_on_index_and_open(home, tmp_path):
    red = _cli(home, "--fail-on", "red")
    assert red.returncode == 1, red.stderr
    assert red.stderr.strip().splitlines() == ["--fail-on red: m-red × mmlu: interval is red (12.0 points: red rule)"]
    assert len(red.stdout.splitlines()) == 3  # the three latest report paths are still printed
    assert _cli(home, "m-amber", "--fail-on", "red").returncode == 0
    amber = _cli(home, "m-amber", "--fail-on", "amber")
    assert amber.returncode == 1 and "prompt_spread is amber" in amber.stderr
    bad = _cli(home, "--fail-on", "blue")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --fail-on takes one of")
    index = _cli(home, "--index")
    assert index.returncode == 0 and index.stdout.strip() == str(home / "reports" / "index.html")
    # --open hands the file's URI to $BROWSER (webbrowser's standard override): here a command that records it
    opened = tmp_path / "opened.txt"
    browser = f"sh -c 'echo %s > {opened}'"
    one = _cli(home, "m-green", "--open", env_extra={"BROWSER": browser})
    assert one.returncode == 0, one.stderr
    assert (
        opened.read_text().strip()
        == report_folder(home / "reports", "m-green", "gsm8k", "v1").joinpath("report.html").resolve().as_uri()
    )
    _cli(home, "--open", env_extra={"BROWSER": browser})  # several reports: the index page
    assert opened.read_text().strip() == (home / "reports" / "index.html").resolve().as_uri()
