"""`benchtrust import`: other tools' predictions land in the lake through the same contracts, and the marts
audit them like our own."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import external

REPO = Path(__file__).resolve().parents[2]


def test_import_helm_matrix_builds_the_report(bt_home):
    helm = external("helm_mmlu") / "helm_10models_mmlu_item_matrix.csv"
    res = CliRunner().invoke(app, ["import", "helm", str(helm)])
    assert res.exit_code == 0, res.output
    assert "imported 140150 prediction rows of 10 model(s)" in res.output
    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    rep = con.execute(
        "select model, n_scored, accuracy, ci_low, ci_high from marts.reliability_report order by accuracy desc"
    ).df()
    assert len(rep) == 10
    # names are kept as the source wrote them (folders are slugged, columns are not)
    assert rep["model"].iloc[0] == "anthropic/claude-3-opus-20240229"
    assert (rep["n_scored"] == 14014).all()  # one item has no gold: imported, left unscored
    assert (rep["ci_low"] < rep["accuracy"]).all() and (rep["accuracy"] < rep["ci_high"]).all()
    n_pred = con.execute("select count(*) from marts.predictions where decoding = 'greedy'").fetchone()[0]
    assert n_pred == 140150
    con.close()

    # the import is a Dagster backfill on the instance: the UI shows its materializations and asset checks
    import dagster as dg

    instance = dg.DagsterInstance.get()
    bfs = {b.title: b for b in instance.get_backfills()}  # the import, then the warehouse
    assert len(bfs) == 2 and all(b.status.value == "COMPLETED_SUCCESS" for b in bfs.values())
    assert any(t.startswith("import helm") for t in bfs) and any(t.startswith("warehouse (import") for t in bfs)
    mat = instance.fetch_materializations(dg.AssetKey("imported_predictions"), limit=1).records[0]
    meta = mat.asset_materialization.metadata
    assert meta["dagster/row_count"].value == 140150 and meta["models"].value == 10 and meta["contract_passed"].value
    from pipelines.definitions import defs

    storage = instance.event_log_storage
    contract = dg.AssetCheckKey(dg.AssetKey("imported_predictions"), "imported_predictions_contract")
    assert storage.get_latest_asset_check_execution_by_key([contract])[contract].status.value == "SUCCEEDED"
    dbt_checks = [
        k
        for k in defs.resolve_asset_graph().asset_check_keys
        if k.asset_key == dg.AssetKey(["marts", "reliability_report"])
    ]
    executed = storage.get_latest_asset_check_execution_by_key(dbt_checks)
    assert dbt_checks and len(executed) == len(dbt_checks)  # dbt's tests ran as asset checks
    assert all(e.status.value == "SUCCEEDED" for e in executed.values())
    assert instance.fetch_materializations(dg.AssetKey(["marts", "reliability_report"]), limit=1).records
    assert instance.fetch_materializations(dg.AssetKey("reliability_reports"), limit=1).records

    # the import also wrote the reports: one per model, and the benchmark page across the 10 models ranks them
    # with intervals, the pairwise McNemar matrix, ranking stability and the label-error candidates
    reports = bt_home / "reports"
    assert len(list(reports.glob("*/*/*/report.html"))) == 10
    [ix_json] = list((reports / "_benchmarks").glob("*/*/index.json"))
    ix = json.loads(ix_json.read_text())
    models = ix["models"]
    assert [m["rank"] for m in models] == sorted(m["rank"] for m in models) and models[0]["rank"] == 1
    assert models[0]["model"] == "anthropic/claude-3-opus-20240229"
    assert all(m["ci_low"] < m["accuracy"] < m["ci_high"] for m in models)
    assert len(ix["comparisons"]) == 45 and all(0 <= c["mcnemar_p"] <= 1 for c in ix["comparisons"])
    rs = ix["ranking_stability"]
    assert len(rs["models"]) == 10 and rs["n_items"] == 14014 and rs["reps"] == 10_000
    assert 0 < rs["tau_mean"] <= 1 and 0 <= rs["p_top1_change"] <= 1
    assert rs["leader"] == "anthropic/claude-3-opus-20240229"
    assert rs["rank_probabilities"][0]["model"] == rs["leader"]
    # the page formats marts.ranking_stability (no bootstrap while rendering), and those rows are
    # benchtrust.audits.leaderboard_stability on the imported headline answers (10,000 resamples, seed 0)
    from benchtrust.audits import leaderboard_stability

    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    mart = con.execute("select * from marts.ranking_stability order by rank, model").df()
    answers = con.execute("select model, item_id, is_correct from marts.predictions where is_headline").df()
    con.close()
    assert rs["source"] == "marts.ranking_stability" and len(mart) == 10
    assert [(r["model"], r["p_top1"], r["mean_rank"]) for r in rs["rank_probabilities"]] == list(
        zip(mart["model"], mart["p_top1"], mart["mean_rank"])
    )
    st = leaderboard_stability(answers, reps=10_000, seed=0)
    assert (st.tau_mean, st.p_top1_change, st.leader) == (rs["tau_mean"], rs["p_top1_change"], rs["leader"])
    assert st.lomo_leader_flips == rs["lomo_leader_flips"]
    assert list(st.rank_probabilities["p_top1"]) == [r["p_top1"] for r in rs["rank_probabilities"]]
    le = ix["label_errors"]
    assert le["n_models"] == 10 and le["candidates"][0]["rank"] == 1 and le["source"] == "marts.item_audit"
    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    sql = con.execute(
        "select count(*) filter (where label_error_posterior >= 0.5), "
        "count(*) filter (where is_label_error_candidate), "
        "list(item_id order by label_error_posterior_rank) filter (where label_error_posterior_rank <= 20) "
        "from marts.item_audit"
    ).fetchone()
    con.close()
    # the page reads the mart: the same counts and the same top 20, each with all ten models' votes
    assert le["n_candidates"] == sql[0] and le["n_agreement_candidates"] == sql[1] == 1439
    assert [c["item_id"] for c in le["candidates"]] == sql[2]
    assert all(sum(len(v["models"]) for v in c["votes_by_answer"]) == 10 for c in le["candidates"])
    html = ix_json.with_name("index.html").read_text()
    for anchor in ('id="models"', 'id="comparisons"', 'id="ranking-stability"', "Label-error candidates"):
        assert anchor in html
    assert "Ranking stability" in ix_json.with_name("index.md").read_text()


def test_import_lm_eval_samples(bt_home):
    fixture = REPO / "tests" / "external" / "fixtures" / "lm_eval"
    res = CliRunner().invoke(app, ["import", "lm-eval", str(fixture), "--no-build"])
    assert res.exit_code == 0, res.output
    assert "imported" in res.output
    assert list((bt_home / "lake" / "predictions").rglob("*.parquet"))


def test_lm_eval_filters_are_not_prompt_templates(bt_home):
    """Issue 14: gsm8k's strict-match and flexible-extract filters gave "prompt spread 50 points, red". Through
    the warehouse: one template (the primary filter's), no spread, the headline on strict-match, and the other
    filter's rows still in marts.predictions as non-primary cells."""
    fixture = REPO / "tests" / "external" / "fixtures" / "lm_eval" / "EleutherAI__pythia-160m"
    res = CliRunner().invoke(
        app, ["import", "lm-eval", str(fixture / "samples_gsm8k_2024-06-01T10-00-00.000000.jsonl")]
    )
    assert res.exit_code == 0, res.output
    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    rep = con.execute(
        "select n_templates, prompt_spread, accuracy, headline_template from marts.reliability_report "
        "where benchmark = 'gsm8k'"
    ).fetchall()
    cells = con.execute(
        "select template_id, is_primary, count(*) from marts.predictions where benchmark = 'gsm8k' "
        "group by all order by all"
    ).fetchall()
    con.close()
    assert rep == [(1, 0.0, 0.5, "gsm8k|filter=strict-match")]  # the flexible-extract filter scores 1.0
    assert cells == [("gsm8k|filter=flexible-extract", False, 2), ("gsm8k|filter=strict-match", True, 2)]


def test_import_rejects_a_broken_file_naming_it(bt_home, tmp_path):
    bad = tmp_path / "preds.csv"
    bad.write_text("model,item_id,prediction\nm1,q1,A\nm1,q2\n")  # a ragged row
    res = CliRunner().invoke(app, ["import", "csv", str(bad), "--benchmark", "quiz", "--no-build"])
    assert res.exit_code != 0
    assert str(bad) in res.output
