"""The quiet console's parts (pipelines/console.py, issue 14 item 2) on real Dagster runs in a temporary instance:
the live view reads a run's progress and model-loading lines from its event records, the warehouse line's dbt
summary counts multi-part asset materializations and check results, failures come last with the next command, and
one_line turns PyYAML's caret diagrams and Dagster's prefixes into one line."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from pipelines.console import (
    Activity,
    RunActivity,
    RunView,
    dbt_summary,
    finished_line,
    one_line,
    print_failures,
    print_summary_table,
    report_rows,
)


@dg.asset
def scored(context) -> None:  # unannotated: under `from __future__ import annotations` dagster rejects it
    context.log.info("loading model tiny …")
    context.log.info("model tiny loaded in 0.1s")
    context.log.info("tiny × quiz: 64/128 cells computed")
    context.log.info("tiny × quiz: 128/128 cells computed")


@dg.asset(
    key=["marts", "table_a"],
    check_specs=[
        dg.AssetCheckSpec("ok_check", asset=["marts", "table_a"]),
        dg.AssetCheckSpec("warn_check", asset=["marts", "table_a"]),
        dg.AssetCheckSpec("bad_check", asset=["marts", "table_a"]),
    ],
)
def table_a() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(check_name="ok_check", passed=True),
            dg.AssetCheckResult(check_name="warn_check", passed=False, severity=dg.AssetCheckSeverity.WARN),
            dg.AssetCheckResult(check_name="bad_check", passed=False, severity=dg.AssetCheckSeverity.ERROR),
        ]
    )


@dg.asset(key=["marts", "table_b"])
def table_b() -> None:
    return None


def test_activity_reads_progress_and_loading_from_the_event_log():
    with dg.instance_for_test() as instance:
        res = dg.materialize([scored], instance=instance)
        act = RunActivity(instance)
        # replay the records one by one, as a poll in the middle of the run would see them
        conn = instance.get_records_for_run(res.run_id)
        states = []
        for rec in conn.records:
            RunActivity._apply(act.state.setdefault("x", Activity()), rec.event_log_entry)
            s = act.state["x"]
            states.append((s.step, s.loading, s.done, s.total))
        assert ("loading model tiny …", "tiny", 0, 0) in states
        assert states[-1][2:] == (128, 128) and states[-1][1] is None
        whole = act.poll(res.run_id)  # the cursor reads everything once
        assert (whole.done, whole.total) == (128, 128)
        assert act.poll(res.run_id).done == 128  # and nothing twice


def test_plain_view_says_model_loading_once(capsys):
    lines: list[str] = []
    view = RunView(lines.append, live=False)
    with dg.instance_for_test() as instance:
        res = dg.materialize([scored], instance=instance)
        act = RunActivity(instance)
        a = act.poll(res.run_id)
        a.loading, a.step = "tiny", "loading model tiny …"
        view.running(res.run_id, "predictions quiz|tiny", a)
        view.running(res.run_id, "predictions quiz|tiny", a)
        a.step, a.loading = "writing reports", None
        view.running(res.run_id, "warehouse", a)
    view.stop()
    assert lines == ["  predictions quiz|tiny: loading model tiny …", "  warehouse: writing reports …"]


def test_dbt_summary_counts_models_and_checks():
    with dg.instance_for_test() as instance:
        res = dg.materialize([table_a, table_b], instance=instance, raise_on_error=False)
        assert dbt_summary(instance, res.run_id) == "2 models built, 1 tests passed, 1 warned, 1 failed"
        plain = dg.materialize([scored], instance=instance)
        assert dbt_summary(instance, plain.run_id) is None  # no dbt model in that run


def test_finished_line_and_failures_last(capsys):
    ok = {
        "job": "warehouse (dbt build + reports)",
        "partition": None,
        "success": True,
        "failed_checks": [],
        "status": "SUCCESS",
        "seconds": 61.04,
        "dbt": "40 models built, 90 tests passed",
    }
    assert finished_line(ok) == "[ok] warehouse (dbt build + reports) (61.0s) — 40 models built, 90 tests passed"
    blocked = {
        "job": "predictions",
        "partition": "mmlu|m",
        "success": False,
        "status": "SUCCESS",
        "seconds": 3.0,
        "failed_checks": ["predictions:predictions_contract: 2 rows out of range"],
        "run_id": "abc",
    }
    failed = {
        "job": "items",
        "partition": "quiz",
        "success": False,
        "status": "FAILURE",
        "seconds": 1.0,
        "failed_checks": [],
        "run_id": None,
        "error": "dagster._core.definitions.events.Failure: no such\nfile",
    }
    assert finished_line(blocked).startswith("[BLOCKED] predictions mmlu|m (3.0s)")
    print_failures([blocked, failed], "benchtrust run --profile p")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "BLOCKED predictions mmlu|m: predictions:predictions_contract: 2 rows out of range (run abc)",
        "FAILED items quiz: no such file",
        "next: fix the cause above, then `benchtrust run --profile p` (cached cells are kept); details in "
        "`benchtrust ui`",
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a: b\n  c: d\n", "not valid YAML: mapping values are not allowed here (line 2, column 4)"),
        ("x:\n\t- y\n", "not valid YAML: found character '\\t' that cannot start any token (line 2, column 1)"),
    ],
)
def test_one_line_yaml(text, want):
    with pytest.raises(yaml.YAMLError) as e:
        yaml.safe_load(text)
    got = one_line(f"/c/models.yaml: not valid YAML: {e.value}")
    assert got == f"/c/models.yaml: {want}" and "\n" not in got


def test_summary_table_and_report_paths(tmp_path, capsys):
    import duckdb

    wh = tmp_path / "w.duckdb"
    con = duckdb.connect(str(wh))
    con.execute(
        "create schema marts; create table marts.reliability_report as select model, benchmark, n_scored, "
        "accuracy::double accuracy, ci_low::double ci_low, ci_high::double ci_high, prompt_spread::double "
        "prompt_spread, report_version, is_latest from (values "
        "('m', 'mmlu', 6, 0.5, 0.19, 0.81, 0.1, 'v1', true), ('m', 'old', 6, 0.5, 0.1, 0.9, null, 'v0', false),"
        "('z', 'mmlu', 6, 0.25, 0.05, 0.6, null, 'v2', true)) t(model, benchmark, n_scored, accuracy, ci_low, "
        "ci_high, prompt_spread, report_version, is_latest)"
    )
    con.close()
    rows = report_rows(wh, ["m"], ["mmlu", "old"])
    assert rows == [("m", "mmlu", 6, 0.5, 0.19, 0.81, 0.1, "v1")]
    assert report_rows(tmp_path / "absent.duckdb") == []
    print_summary_table(rows, tmp_path / "reports")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["model", "benchmark", "n", "accuracy", "95%", "CI", "prompt", "spread"]
    assert out[1].split() == ["m", "mmlu", "6", "0.500", "[0.190,", "0.810]", "0.100"]
    assert out[2].startswith("report m × mmlu: " + str(tmp_path / "reports")) and out[2].endswith("report.html")
