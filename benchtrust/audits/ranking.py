"""Leaderboard audits on (imported) predictions: ranking with intervals, paired tests, stability.

All functions take canonical predictions (``model``, ``item_id``, ``is_correct``; ``subject`` for the
macro average) and delegate the statistics to :mod:`benchtrust.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.audits.matrix import CorrectnessMatrix, correctness_matrix
from benchtrust.stats import (
    bootstrap_accuracy,
    clustered_se,
    mcnemar_exact,
    paired_counts,
    ranking_stability,
    wilson,
)

__all__ = [
    "StabilityReport",
    "leaderboard_stability",
    "mcnemar_matrix",
    "model_ranking",
    "pairwise_mcnemar",
]


def model_ranking(
    predictions: pd.DataFrame,
    *,
    conf: float = 0.95,
    cluster_col: str | None = "subject",
    model_col: str = "model",
    value_col: str = "is_correct",
) -> pd.DataFrame:
    """One row per model: accuracy with a Wilson interval, rank, and the macro average over clusters.

    Each model is scored on its own scored rows (``value_col`` not null).  Columns: ``model``,
    ``n_items``, ``n_correct``, ``accuracy``, ``ci_low``, ``ci_high``, ``ci_method`` (``wilson``),
    ``rank`` (1 = best accuracy, ties share the lowest rank), and when ``cluster_col`` is present:
    ``n_clusters``, ``macro_accuracy`` (unweighted mean of per-cluster accuracies — HELM's MMLU
    headline), ``macro_rank``, ``clustered_se`` (cluster-robust SE of the micro accuracy,
    :func:`benchtrust.stats.clustered_se`).  Sorted by ``rank`` then model.
    """
    d = predictions[predictions[value_col].notna()]
    x = d[value_col].astype(float)
    g = x.groupby(d[model_col])
    out = pd.DataFrame({"n_items": g.size(), "n_correct": g.sum()})
    out["accuracy"] = out["n_correct"] / out["n_items"]
    ci = wilson(out["n_correct"].to_numpy(), out["n_items"].to_numpy(), conf)
    out["ci_low"], out["ci_high"], out["ci_method"] = ci.lo, ci.hi, "wilson"
    out["rank"] = out["accuracy"].rank(ascending=False, method="min").astype(int)
    if cluster_col and cluster_col in d.columns:
        per = x.groupby([d[model_col], d[cluster_col]]).mean()
        out["n_clusters"] = per.groupby(level=0).size()
        out["macro_accuracy"] = per.groupby(level=0).mean()
        out["macro_rank"] = out["macro_accuracy"].rank(ascending=False, method="min").astype(int)
        out["clustered_se"] = [
            clustered_se(x[d[model_col] == m].to_numpy(), d.loc[d[model_col] == m, cluster_col].to_numpy())
            for m in out.index
        ]
    out.index.name = "model"
    return out.reset_index().sort_values(["rank", "model"], kind="mergesort").reset_index(drop=True)


def _binary_matrix(predictions: pd.DataFrame, **kw: Any) -> CorrectnessMatrix:
    cm = correctness_matrix(predictions, **kw)
    if not cm.is_binary:
        raise ValueError(
            "paired audits need one 0/1 prediction per model × item; filter the predictions to "
            "one configuration (template, seeds, sample) first"
        )
    if len(cm.models) < 2:
        raise ValueError("need at least two models")
    return cm


def pairwise_mcnemar(predictions: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """Exact McNemar test for every pair of models on the items all models share.

    One row per unordered pair (``model_a`` < ``model_b``): ``n_items``, the 2×2 cells ``both``,
    ``only_a``, ``only_b``, ``neither``, ``accuracy_a``, ``accuracy_b``, ``delta`` (= a − b) and
    ``p_value`` (two-sided exact, :func:`benchtrust.stats.mcnemar_exact`).
    """
    cm = _binary_matrix(predictions, **kw)
    x = cm.values.astype(bool)
    ia, ib = np.triu_indices(len(cm.models), k=1)
    cells = paired_counts(x[ia], x[ib])
    n = x.shape[1]
    out = pd.DataFrame(
        {
            "model_a": [cm.models[i] for i in ia],
            "model_b": [cm.models[j] for j in ib],
            "n_items": n,
            "both": cells.both,
            "only_a": cells.only_a,
            "only_b": cells.only_b,
            "neither": cells.neither,
        }
    )
    out["accuracy_a"] = (out["both"] + out["only_a"]) / n
    out["accuracy_b"] = (out["both"] + out["only_b"]) / n
    out["delta"] = out["accuracy_a"] - out["accuracy_b"]
    out["p_value"] = mcnemar_exact(out["only_a"].to_numpy(), out["only_b"].to_numpy())
    return out


def mcnemar_matrix(pairs: pd.DataFrame, value: str = "p_value") -> pd.DataFrame:
    """Square symmetric matrix (models × models) of a column of :func:`pairwise_mcnemar`.

    Diagonal: 1.0 for p-values (a model is not different from itself), 0 for other columns; for
    ``delta`` the lower triangle is the negated upper one (row minus column).
    """
    models = sorted(set(pairs["model_a"]) | set(pairs["model_b"]))
    m = pd.DataFrame(np.nan, index=models, columns=models)
    for a, b, v in zip(pairs["model_a"], pairs["model_b"], pairs[value]):
        m.loc[a, b] = v
        m.loc[b, a] = -v if value == "delta" else v
    np.fill_diagonal(m.values, 1.0 if value == "p_value" else 0.0)
    return m


@dataclass(frozen=True)
class StabilityReport:
    """Audit 7 on named models (see :class:`benchtrust.stats.RankingStability`).

    ``rank_probabilities``: one row per model with the full-data accuracy and rank, ``p_top1`` (share
    of bootstrap replicates in which the model has the highest accuracy, ties to the first), the mean
    bootstrap rank and its 2.5 % / 97.5 % quantiles.
    """

    models: list[str]
    n_items: int
    reps: int
    seed: int | None
    tau_mean: float
    tau_quantiles: tuple[float, float, float]
    leader: str
    p_top1_change: float
    lomo_leader_flips: dict[str, float]
    rank_probabilities: pd.DataFrame
    n_dropped_items: int = 0  # items some but not all models scored (left out of the paired bootstrap)

    def as_dict(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "n_items": self.n_items,
            "reps": self.reps,
            "seed": self.seed,
            "tau_mean": self.tau_mean,
            "tau_quantiles": list(self.tau_quantiles),
            "leader": self.leader,
            "p_top1_change": self.p_top1_change,
            "lomo_leader_flips": self.lomo_leader_flips,
            "rank_probabilities": self.rank_probabilities.to_dict(orient="records"),
            "n_dropped_items": self.n_dropped_items,
        }


def leaderboard_stability(
    predictions: pd.DataFrame, *, reps: int = 10_000, seed: int | None = 0, **kw: Any
) -> StabilityReport:
    """Does the leaderboard order survive resampling the items?  (paired item bootstrap)

    :func:`benchtrust.stats.ranking_stability` gives Kendall τ, P(top-1 changes) and the
    leave-one-model-out leader flips; the per-model rank distribution comes from the same replicates of
    :func:`benchtrust.stats.bootstrap_accuracy` (drawn once and handed to both).
    """
    cm = _binary_matrix(predictions, **kw)
    boot = bootstrap_accuracy(cm.values, reps=reps, seed=seed)
    rs = ranking_stability(cm.values, reps=reps, seed=seed, boot=boot)
    # rank 1 = best; ties broken by model order (stable argsort of -acc)
    order = np.argsort(-boot, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(boot.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, boot.shape[1] + 1)[None, :]
    acc = cm.values.mean(axis=1)
    rp = (
        pd.DataFrame(
            {
                "model": cm.models,
                "accuracy": acc,
                "rank": pd.Series(acc).rank(ascending=False, method="min").astype(int).to_numpy(),
                "p_top1": (ranks == 1).mean(axis=0),
                "mean_rank": ranks.mean(axis=0),
                "rank_q025": np.quantile(ranks, 0.025, axis=0),
                "rank_q975": np.quantile(ranks, 0.975, axis=0),
            }
        )
        .sort_values(["rank", "model"], kind="mergesort")
        .reset_index(drop=True)
    )
    return StabilityReport(
        models=cm.models,
        n_items=len(cm.items),
        reps=reps,
        seed=seed,
        tau_mean=rs.tau_mean,
        tau_quantiles=rs.tau_quantiles,
        leader=cm.models[rs.leader],
        p_top1_change=rs.p_top1_change,
        lomo_leader_flips={m: float(v) for m, v in zip(cm.models, rs.lomo_leader_flips)},
        rank_probabilities=rp,
        n_dropped_items=cm.n_dropped_items,
    )
