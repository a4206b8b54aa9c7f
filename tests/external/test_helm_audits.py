"""HELM import and leaderboard audits on real outputs: 10 HELM models × 14,015 MMLU test items.

Data: ``../shared/external-data/helm_mmlu/helm_10models_mmlu_item_matrix.csv`` (aryopg/mmlu-redux @
4563cfa7, ``outputs/original_helm_combined/``, CC-BY-4.0).  Reference figures: the folder README (macro
accuracy over subjects, recounted from the file).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from benchtrust.audits import (
    correctness_matrix,
    leaderboard_stability,
    mcnemar_matrix,
    model_ranking,
    pairwise_mcnemar,
)
from benchtrust.inference.runner import PREDICTION_COLUMNS

README_MACRO = {
    "anthropic/claude-3-opus-20240229": 0.8458,
    "openai/gpt-4o-2024-05-13": 0.8415,
    "openai/gpt-4-0613": 0.8242,
}


@pytest.fixture(scope="module")
def preds(helm_import):
    return helm_import.predictions


@pytest.fixture(scope="module")
def pairs(preds):
    return pairwise_mcnemar(preds)


def test_import_shape_and_schema(helm_import, preds):
    assert len(helm_import.models) == 10
    assert helm_import.n_items == 14_015
    assert len(preds) == 140_150
    assert list(preds.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert helm_import.canonical_predictions().columns.tolist() == PREDICTION_COLUMNS
    assert preds["cell_key"].is_unique
    for col in (
        "model",
        "model_version",
        "benchmark",
        "dataset_version",
        "item_id",
        "template_id",
        "decoding",
        "sample_idx",
        "task_type",
    ):
        assert preds[col].notna().all(), col
    assert set(preds["decoding"]) == {"greedy"}
    assert preds["is_primary"].all() and preds["is_headline"].all()  # one configuration per model
    items = helm_import.items
    assert len(items) == 14_015 and items["item_id"].is_unique
    assert items["dataset_version"].nunique() == 1 == preds["dataset_version"].nunique()
    assert items["dataset_version"].iloc[0] == preds["dataset_version"].iloc[0]


def test_item_ids_keep_the_mmlu_join_key(preds, external):
    row = preds[preds["item_id"] == "abstract_algebra-00003"].iloc[0]
    assert (row["subject"], row["mmlu_test_index"], row["gold"]) == ("abstract_algebra", 3, "B")
    # the one HELM item that was not joined to MMLU (and has no gold) keeps an id from helm_row, unscored
    unjoined = preds[preds["mmlu_test_index"].isna()]
    assert unjoined["item_id"].unique().tolist() == ["high_school_computer_science-helm00054"]
    assert unjoined["is_correct"].isna().all() and unjoined["gold"].isna().all()
    assert int(preds["is_correct"].notna().sum()) == 140_140
    # it joins to MMLU-Redux on (subject, mmlu_test_index)
    redux = pd.read_csv(
        external("mmlu_redux/redux_v2_5700_from_HEAD_with_mmlu_index.csv"),
        usecols=["subject", "mmlu_test_index", "mmlu_gold"],
    )
    items = preds.drop_duplicates("item_id").dropna(subset=["mmlu_test_index"])
    joined = redux.merge(items.astype({"mmlu_test_index": int}), on=["subject", "mmlu_test_index"])
    assert len(joined) == 5_686  # of 5,700: 14 labelled items are not in HELM's run
    assert (joined["mmlu_gold"] == joined["gold"]).all()


def test_invalid_answers_are_kept_and_wrong(preds):
    letters = preds["prediction"].isin(list("ABCD"))
    invalid = preds[~letters]
    assert len(invalid) == 954
    assert set(invalid["prediction"]) >= {"To", "The", ""}
    assert invalid["predicted_index"].isna().all()
    scored = invalid["is_correct"].notna()
    assert not invalid.loc[scored, "is_correct"].astype(bool).any()
    gpt4_1106 = preds[preds["model"] == "openai/gpt-4-1106-preview"]
    assert int((gpt4_1106["prediction"] == "To").sum()) == 624


def test_macro_accuracy_matches_readme(preds):
    rk = model_ranking(preds).set_index("model")
    for model, expected in README_MACRO.items():
        assert round(float(rk.loc[model, "macro_accuracy"]), 4) == expected, model
    assert (rk["n_clusters"] == 57).all()
    assert rk.sort_values("macro_rank").index[:3].tolist() == list(README_MACRO)


def test_ranking_with_wilson_intervals(preds):
    rk = model_ranking(preds)
    assert len(rk) == 10 and (rk["n_items"] == 14_014).all()
    assert rk["accuracy"].is_monotonic_decreasing
    assert rk["rank"].tolist() == list(range(1, 11))
    lo, hi = proportion_confint(rk["n_correct"], rk["n_items"], alpha=0.05, method="wilson")
    np.testing.assert_allclose(rk["ci_low"], lo, atol=1e-12)
    np.testing.assert_allclose(rk["ci_high"], hi, atol=1e-12)
    assert ((rk["ci_low"] < rk["accuracy"]) & (rk["accuracy"] < rk["ci_high"])).all()
    assert (rk["clustered_se"] > np.sqrt(rk["accuracy"] * (1 - rk["accuracy"]) / rk["n_items"])).all()


def test_mcnemar_matrix_is_symmetric_and_valid(pairs):
    assert len(pairs) == 45 and (pairs["n_items"] == 14_014).all()
    assert ((pairs["both"] + pairs["only_a"] + pairs["only_b"] + pairs["neither"]) == 14_014).all()
    m = mcnemar_matrix(pairs)
    assert m.shape == (10, 10)
    np.testing.assert_array_equal(m.to_numpy(), m.to_numpy().T)
    assert np.all((m.to_numpy() >= 0) & (m.to_numpy() <= 1))
    assert np.all(np.diag(m.to_numpy()) == 1.0)
    d = mcnemar_matrix(pairs, "delta")
    np.testing.assert_allclose(d.to_numpy(), -d.to_numpy().T)


def test_one_mcnemar_cell_against_statsmodels_from_the_raw_file(pairs, external):
    """Cross-check from the CSV itself (not through the importer): claude-3-opus vs gpt-4o."""
    raw = pd.read_csv(external("helm_mmlu/helm_10models_mmlu_item_matrix.csv"), dtype=str, keep_default_na=False)
    raw = raw[raw["gold"] != ""]
    a = (raw["anthropic_claude-3-opus-20240229"] == raw["gold"]).to_numpy()
    b = (raw["openai_gpt-4o-2024-05-13"] == raw["gold"]).to_numpy()
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    expected = sm_mcnemar(table, exact=True).pvalue
    row = pairs[
        (pairs["model_a"] == "anthropic/claude-3-opus-20240229") & (pairs["model_b"] == "openai/gpt-4o-2024-05-13")
    ].iloc[0]
    assert [row["both"], row["only_a"], row["only_b"], row["neither"]] == [
        table[0][0],
        table[0][1],
        table[1][0],
        table[1][1],
    ]
    assert row["p_value"] == pytest.approx(expected, rel=1e-9)
    assert row["p_value"] > 0.05  # 0.85044 vs 0.84815: not distinguishable on 14,014 items


def test_ranking_stability(preds):
    st = leaderboard_stability(preds, reps=2_000, seed=7)
    again = leaderboard_stability(preds, reps=2_000, seed=7)
    assert st.as_dict() == again.as_dict()
    assert st.leader == "anthropic/claude-3-opus-20240229"
    assert 0.0 < st.p_top1_change < 0.5  # gpt-4o is close behind
    assert -1.0 <= st.tau_quantiles[0] <= st.tau_quantiles[1] <= st.tau_quantiles[2] <= 1.0
    assert 0.8 < st.tau_mean < 1.0
    rp = st.rank_probabilities
    assert rp["p_top1"].sum() == pytest.approx(1.0)
    p_leader = rp.set_index("model").loc["anthropic/claude-3-opus-20240229", "p_top1"]
    assert p_leader == pytest.approx(1 - st.p_top1_change)
    assert set(st.lomo_leader_flips) == set(st.models)
    # dropping the runner-up removes the only challenger of the leader
    assert st.lomo_leader_flips["openai/gpt-4o-2024-05-13"] < 0.01


def test_correctness_matrix_leaves_out_unscored_items(preds):
    cm = correctness_matrix(preds)
    # the gold-less item is scored by no model: absent, not "dropped" (dropped = scored by only some)
    assert cm.values.shape == (10, 14_014) and cm.is_binary and cm.n_dropped_items == 0
    partial = preds[~((preds["model"] == "meta/llama-3-70b") & (preds["item_id"] == "anatomy-00000"))]
    cm2 = correctness_matrix(partial)
    assert cm2.values.shape == (10, 14_013) and cm2.n_dropped_items == 1
    assert np.isnan(correctness_matrix(partial, complete=False).frame().loc["meta/llama-3-70b", "anatomy-00000"])
