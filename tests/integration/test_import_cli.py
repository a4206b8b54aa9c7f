"""`benchtrust import`: other tools' predictions land in the lake through the same contracts, and the marts
audit them like our own."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from benchtrust.cli import app
from tests.conftest import external

REPO = Path(__file__).resolve().parents[2]


def test_import_helm_matrix_builds_the_report(bt_home):
    helm = external("helm_mmlu") / "helm_10models_mmlu_item_matrix.csv"
    res = CliRunner().invoke(app, ["import", "helm", str(helm)])
    assert res.exit_code == 0, res.output
    assert "imported 140150 prediction rows of 10 model(s)" in res.output
    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    rep = con.execute("select model, n_scored, accuracy, ci_low, ci_high from marts.reliability_report "
                      "order by accuracy desc").df()
    assert len(rep) == 10
    # names are kept as the source wrote them (folders are slugged, columns are not)
    assert rep["model"].iloc[0] == "anthropic/claude-3-opus-20240229"
    assert (rep["n_scored"] == 14014).all()  # one item has no gold: imported, left unscored
    assert (rep["ci_low"] < rep["accuracy"]).all() and (rep["accuracy"] < rep["ci_high"]).all()
    n_pred = con.execute("select count(*) from marts.predictions where decoding = 'greedy'").fetchone()[0]
    assert n_pred == 140150
    con.close()


def test_import_lm_eval_samples(bt_home):
    fixture = REPO / "tests" / "external" / "fixtures" / "lm_eval"
    res = CliRunner().invoke(app, ["import", "lm-eval", str(fixture), "--no-build"])
    assert res.exit_code == 0, res.output
    assert "imported" in res.output
    assert list((bt_home / "lake" / "predictions").rglob("*.parquet"))


def test_import_rejects_a_broken_file_naming_it(bt_home, tmp_path):
    bad = tmp_path / "preds.csv"
    bad.write_text("model,item_id,prediction\nm1,q1,A\nm1,q2\n")  # a ragged row
    res = CliRunner().invoke(app, ["import", "csv", str(bad), "--benchmark", "quiz", "--no-build"])
    assert res.exit_code != 0
    assert str(bad) in res.output
