"""Dagster: the definitions load, and the default job path materializes for real (smoke profile)."""

from __future__ import annotations

import json
import re

import dagster as dg
import duckdb
import pytest

EXPECTED_KEYS = {
    "benchmark_items",
    "item_quarantine",
    "predictions",
    "reliability_reports",
    "imported_predictions",  # `benchtrust import` as an asset (issue 11)
    "staging/stg_lake__items",
    "staging/stg_lake__predictions",
    "staging/stg_lake__quarantined_items",
    "staging/stg_lake__files",  # the lake manifest check (issue 15, item 6)
    "intermediate/int_template_scores_aggregated",
    "intermediate/int_generation_samples_aggregated",
    "marts/predictions",
    "marts/reliability_report",
    "marts/item_audit",
    "marts/quarantine",
    # versioned reports (issue 7): report lineage and paired comparisons
    "intermediate/int_item_outcomes_selected",
    "marts/report_versions",
    "marts/model_comparisons",
    # the SQL audits (models/intermediate/audits, models/marts/audits)
    "intermediate/int_subject_scores_aggregated",
    "intermediate/int_score_uncertainties_estimated",
    "intermediate/int_run_variances_measured",
    "intermediate/int_decoding_gaps_measured",
    "intermediate/int_prompt_sensitivities_measured",
    "intermediate/int_answer_calibrations_measured",
    "intermediate/int_label_errors_scored",
    "intermediate/int_label_error_posteriors",
    "intermediate/int_item_qualities_checked",
    "intermediate/int_numeric_configs_compared",
    "intermediate/int_model_versions_compared",
    "intermediate/int_subject_scores_pooled",
    "marts/subject_scores",
    "marts/prompt_sensitivity",
    "marts/run_variance",
    "marts/decoding_gap",
    "marts/calibration",
    "marts/numeric_determinism",
    "marts/version_regressions",
    "intermediate/int_rankings_resampled",
    "marts/ranking_stability",  # audit 7 as a dbt Python model (issue 12)
    # contamination audits (assets/contamination.py, models/*/contamination)
    "corpus_docs",
    "corpus_ngram_matches",
    "corpus_ngram_scans",
    "text_embeddings",
    "corpus_neighbours",
    "item_neighbours",
    "membership_signals",
    "rewrite_predictions",
    "staging/stg_lake__corpus_docs",
    "staging/stg_lake__corpus_ngram_matches",
    "staging/stg_lake__corpus_ngram_scans",
    "staging/stg_lake__text_embeddings",
    "staging/stg_lake__embedding_neighbours",
    "staging/stg_lake__item_neighbours",
    "staging/stg_lake__membership_signals",
    "staging/stg_lake__rewrite_predictions",
    "intermediate/int_item_ngrams_hashed",
    "intermediate/int_item_ngram_overlaps_measured",
    "intermediate/int_item_corpus_neighbours_ranked",
    "intermediate/int_near_duplicates_paired",
    "intermediate/int_membership_signals_scored",
    "intermediate/int_control_gaps_compared",
    "marts/contamination_evidence",
    "marts/contamination_summary",
    "marts/near_duplicates",
    "marts/control_gap",
    # aligned-window evidence (issue 12)
    "corpus_aligned_matches",
    "staging/stg_lake__aligned_matches",
    "intermediate/int_item_aligned_evidence_scored",
}


def test_definitions_load_with_every_asset_and_job():
    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_KEYS
    assert {"items_job", "predictions_job", "reports_job", "import_job"} <= {
        j.name for j in defs.resolve_all_job_defs()
    }
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"items_contract", "predictions_contract"} <= checks
    assert any(c.startswith(("not_null", "dbt_utils_free_unique")) for c in checks)  # dbt tests


def test_smoke_run_materializes_everything(smoke_run):
    home, summary = smoke_run
    assert summary.ok, summary.runs
    jobs = [(r["job"], str(r["partition"] or "")) for r in summary.runs]
    # submitted as backfills (pipelines/run.py): items and predictions per partition, then one warehouse run
    assert ("items", "mmlu") in jobs and ("warehouse (dbt build + reports)", "") in jobs
    assert ("predictions", "humaneval|smollm2-135m-instruct") in jobs
    assert len(summary.backfills) == 2

    con = duckdb.connect(str(home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    rep = con.execute("select * from marts.reliability_report order by benchmark").df().set_index("benchmark")
    mmlu = rep.loc["mmlu"]
    assert mmlu["n_scored"] == 6 and mmlu["n_templates"] == 2 and mmlu["ci_method"] == "wilson"
    assert 0 <= mmlu["ci_low"] <= mmlu["accuracy"] <= mmlu["ci_high"] <= 1
    assert mmlu["benchmark_items"] == 14042 and mmlu["n_quarantined"] == 2
    # duplicates: 105 in the whole dataset version (marts.item_audit), but the report counts those among the items
    # it ran (issue 14), computed here independently from the predictions and the item audit
    assert con.execute(
        "select count(*) from marts.item_audit where benchmark = 'mmlu' and is_duplicate"
    ).fetchone() == (105,)
    ran_dups = con.execute(
        """select count(distinct a.item_id) from marts.item_audit a
           join marts.predictions p using (benchmark, dataset_version, item_id)
           where a.benchmark = 'mmlu' and a.is_duplicate"""
    ).fetchone()[0]
    assert mmlu["n_duplicate_items"] == ran_dups
    assert rep.loc["humaneval", "n_items"] == 1
    preds = con.execute("select * from marts.predictions where benchmark = 'mmlu'").df()
    assert len(preds) == 12 and set(preds["template_id"]) == {"mmlu_harness", "mmlu_paren"}
    assert preds["model_version"].nunique() == 1 and (preds["dtype"] == "float32").all()
    assert preds["option_logprobs"].map(len).eq(4).all() and preds["p_correct"].between(0, 1).all()
    gen, status, correct = con.execute(
        "select generation, exec_status, is_correct from marts.predictions where benchmark = 'humaneval'"
    ).fetchone()
    assert isinstance(gen, str)
    # the completion was executed against the problem's tests in the sandbox, and scored by that
    assert status in {"passed", "failed", "timeout", "memory", "killed", "error", "blocked"}
    assert correct is (status == "passed")
    assert rep.loc["humaneval", "n_scored"] == 1 and rep.loc["humaneval", "n_samples"] == 1
    con.close()

    # materializations and check results are in the instance the UI reads
    instance = dg.DagsterInstance.get()
    ev = instance.get_latest_materialization_event(dg.AssetKey("reliability_reports"))
    assert ev is not None
    meta = ev.asset_materialization.metadata
    assert meta["reports"].value == 2
    check = instance.get_latest_materialization_event(dg.AssetKey("predictions"))
    assert check is not None


def test_reports_are_versioned_escaped_and_match_the_mart(smoke_run):
    home, _ = smoke_run
    reports = sorted((home / "reports").rglob("report.json"))
    assert len(reports) == 2
    for path in reports:
        data = json.loads(path.read_text())
        assert path.parent.name == data["report_version"]  # the folder is named by the content version
        html = (path.parent / "report.html").read_text()
        assert data["headline"]["model"] in html
        # item text is escaped: no raw tags from benchmark content reach the page
        for s in data["sample_items"]:
            if "<" in (s["input"] or ""):
                assert s["input"] not in html
        assert (path.parent / "report.md").exists()
    mmlu = json.loads(next(p for p in reports if "/mmlu/" in str(p)).read_text())
    assert len(mmlu["templates"]) == 2 and mmlu["provenance"]["dtype"] == "float32"
    # the report says which contract versions validated its inputs
    from data_contracts import suite_version

    assert mmlu["provenance"]["contracts"] == {
        "benchmark_items": suite_version("benchmark_items"),
        "predictions": suite_version("predictions"),
    }
    assert re.search(r"\d+\.\d%", (next(p for p in reports if "/mmlu/" in str(p)).parent / "report.html").read_text())


def test_html_report_escapes_hostile_item_text():
    from benchtrust.report.render import ReportBundle, render_html

    evil = '<script>alert(1)</script>" onerror="alert(2)'
    b = ReportBundle(
        headline={
            "model": "m<b>",
            "benchmark": "b",
            "report_version": "v",
            "accuracy": 0.5,
            "ci_low": 0.2,
            "ci_high": 0.8,
            "ci_method": "wilson",
            "n_correct": 1,
            "n_scored": 2,
            "n_items": 2,
            "headline_template": "t",
            "prompt_spread": None,
            "n_templates": 1,
            "benchmark_items": 2,
            "dataset_version": "d",
            "n_duplicate_items": 0,
            "n_quarantined": 0,
            "model_version": "mv",
        },
        templates=[],
        provenance={},
        quarantine=[],
        sample_items=[
            {
                "item_id": "i",
                "template_id": "t",
                "input": evil,
                "prediction": evil,
                "gold": "A",
                "is_correct": False,
                "p_correct": 0.1,
            }
        ],
    )
    html = render_html(b)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '" onerror="' not in html and "&#34; onerror=&#34;" in html
    assert "m&lt;b&gt;" in html


def test_rerun_uses_the_cache_and_keeps_the_report_version(smoke_run):
    """The rerun is the real `benchtrust run --profile smoke` (a subprocess, no terminal), so its console is checked
    here too (issue 14 item 2): under 60 lines, each partition's state, the summary table, the report paths."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    home, first = smoke_run
    env = dict(os.environ, BENCHTRUST_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"))
    env.pop("BENCHTRUST_PROFILE", None)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--profile", "smoke"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = (proc.stdout + proc.stderr).splitlines()
    assert len(lines) < 60, "\n".join(lines)
    for part in (
        "items mmlu",
        "items humaneval",
        "predictions mmlu|smollm2-135m-instruct",
        "predictions humaneval|smollm2-135m-instruct",
        "warehouse (dbt build + reports)",
    ):
        assert any(ln.startswith(f"[ok] {part}") for ln in lines), (part, lines)
    wh = next(ln for ln in lines if ln.startswith("[ok] warehouse"))
    assert re.search(r"\d+ models built, \d+ tests passed", wh), wh
    assert any(ln.split()[:3] == ["model", "benchmark", "n"] for ln in lines), lines  # the summary table's header
    reports = [ln.split(": ", 1)[1] for ln in lines if ln.startswith("report smollm2-135m-instruct × ")]
    assert len(reports) == 2 and all(Path(r).exists() for r in reports), lines
    assert "Traceback" not in proc.stderr and "DEBUG" not in proc.stderr and "STEP_" not in proc.stderr
    instance = dg.DagsterInstance.get()
    ev = instance.get_latest_materialization_event(dg.AssetKey("predictions"))
    meta = ev.asset_materialization.metadata
    assert meta["cells_computed"].value == 0 and meta["cells_from_cache"].value >= 1
    rep = instance.get_latest_materialization_event(dg.AssetKey("reliability_reports")).asset_materialization.metadata
    assert rep["new_versions"].value == 0  # same inputs → same report versions, nothing rewritten


@pytest.mark.parametrize("sql", ["create table marts.x (a int)", "delete from marts.predictions"])
def test_query_cli_is_read_only(smoke_run, sql):
    from typer.testing import CliRunner

    from pipelines.cli import app

    res = CliRunner().invoke(app, ["query", sql])
    # refused before it reaches the warehouse (benchtrust/query.py's allow-list): exit 2 and a one-line reason
    out = res.output  # CliRunner mixes stderr into output
    assert res.exit_code == 2 and "statements are not allowed" in out and len(out.strip().splitlines()) == 1
    import duckdb

    con = duckdb.connect(str(smoke_run[0] / "warehouse" / "benchtrust.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.predictions").fetchone()[0] > 0  # nothing deleted
    assert not con.execute("select count(*) from information_schema.tables where table_name = 'x'").fetchone()[0]
    con.close()


def test_query_and_report_cli(smoke_run):
    from typer.testing import CliRunner

    from pipelines.cli import app

    r = CliRunner()
    out = r.invoke(
        app,
        ["query", "select benchmark, n_scored, accuracy from marts.reliability_report order by 1", "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [x["benchmark"] for x in rows] == ["humaneval", "mmlu"] and rows[1]["n_scored"] == 6
    table = r.invoke(app, ["query", "select * from marts.reliability_report"])
    assert table.exit_code == 0 and "mmlu" in table.output and "wilson" in table.output
    csv_out = r.invoke(app, ["query", "select benchmark from marts.reliability_report order by 1", "-f", "csv"])
    assert csv_out.output.splitlines() == ["benchmark", "humaneval", "mmlu"]
    where = r.invoke(app, ["query", "--where"])
    assert where.output.strip().endswith("benchtrust.duckdb")
    rep = r.invoke(app, ["report", "smollm2-135m-instruct", "mmlu"])
    assert rep.exit_code == 0 and rep.output.strip().endswith("report.html")
    from pathlib import Path

    assert Path(rep.output.strip()).exists()
