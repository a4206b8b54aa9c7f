"""Audit 7: does the leaderboard order survive resampling the items? One row per benchmark × dataset version × model.

The models are every model's latest report (marts.reliability_report.is_latest) on the benchmark × dataset version,
at their headline cells; the items are those every one of them scored (benchtrust.audits.matrix). The statistics
are benchtrust.audits.leaderboard_stability itself (a paired item bootstrap, benchtrust.stats.bootstrap_accuracy),
called here once per build with a fixed number of resamples and a fixed seed (config ``reps`` / ``seed`` in
_audits_intermediate.yml), so the warehouse holds the numbers and the reports only format them. A Python model
because the bootstrap draws multinomial counts with numpy's generator; SQL has no seeded equivalent.

Per model: accuracy on the shared items, full-data rank (ties share the better rank), P(top 1) (share of resamples
in which it is first, ties to the first model in name order), mean bootstrap rank and its 2.5% / 97.5% quantiles,
and P(top 1 changes) among the others when it is left out. Repeated on every row of the benchmark × dataset
version: the full-data leader, Kendall τ-b of the resampled rankings against the full one (mean and 2.5/50/97.5%
quantiles) and P(top 1 changes). A benchmark × dataset version with fewer than two models, or no item scored by
every model, has no rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

COLUMNS: dict[str, str] = {
    "benchmark": "object",
    "dataset_version": "object",
    "model": "object",
    "model_version": "object",
    "grid_version": "object",
    "report_version": "object",
    "n_models": "int64",
    "n_items": "int64",
    "n_items_dropped": "int64",
    "reps": "int64",
    "seed": "int64",
    "accuracy": "float64",
    "rank": "int64",
    "p_top1": "float64",
    "mean_rank": "float64",
    "rank_q025": "float64",
    "rank_q975": "float64",
    "lomo_p_top1_change": "float64",
    "is_leader": "bool",
    "leader": "object",
    "tau_mean": "float64",
    "tau_q025": "float64",
    "tau_median": "float64",
    "tau_q975": "float64",
    "p_top1_change": "float64",
}


def stability_rows(answers: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """The model's rows from the latest headline answers (model, model_version, benchmark, dataset_version,
    grid_version, report_version, item_id, is_correct)."""
    from benchtrust.audits.ranking import leaderboard_stability

    out: list[dict[str, Any]] = []
    for (benchmark, dataset_version), g in answers.groupby(["benchmark", "dataset_version"], sort=True):
        g = g[g["is_correct"].notna()]
        if g["model"].nunique() < 2:
            continue
        try:
            st = leaderboard_stability(g[["model", "item_id", "is_correct"]], reps=reps, seed=seed)
        except ValueError:  # no item every model scored, or more than one answer per model × item
            continue
        versions = g.drop_duplicates("model").set_index("model")
        lo, mid, hi = st.tau_quantiles
        for r in st.rank_probabilities.to_dict("records"):
            v = versions.loc[r["model"]]
            out.append(
                {
                    "benchmark": benchmark,
                    "dataset_version": dataset_version,
                    "model": r["model"],
                    "model_version": v["model_version"],
                    "grid_version": v["grid_version"],
                    "report_version": v["report_version"],
                    "n_models": len(st.models),
                    "n_items": st.n_items,
                    "n_items_dropped": st.n_dropped_items,
                    "reps": st.reps,
                    "seed": st.seed,
                    "accuracy": r["accuracy"],
                    "rank": r["rank"],
                    "p_top1": r["p_top1"],
                    "mean_rank": r["mean_rank"],
                    "rank_q025": r["rank_q025"],
                    "rank_q975": r["rank_q975"],
                    "lomo_p_top1_change": st.lomo_leader_flips[r["model"]],
                    "is_leader": r["model"] == st.leader,
                    "leader": st.leader,
                    "tau_mean": st.tau_mean,
                    "tau_q025": lo,
                    "tau_median": mid,
                    "tau_q975": hi,
                    "p_top1_change": st.p_top1_change,
                }
            )
    return pd.DataFrame(out, columns=list(COLUMNS)).astype(COLUMNS)


def model(dbt: Any, session: Any) -> pd.DataFrame:
    dbt.config(materialized="table")
    reps, seed = int(dbt.config.get("reps")), int(dbt.config.get("seed"))
    predictions = dbt.ref("predictions")  # noqa: F841  (DuckDB reads the relations by their Python names)
    reports = dbt.ref("reliability_report")  # noqa: F841
    answers = session.sql("""
        select p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, r.report_version,
               p.item_id, p.is_correct
        from predictions as p
        join reports as r using (model, model_version, benchmark, dataset_version, grid_version)
        where r.is_latest and p.is_headline and p.is_correct is not null
        """).df()
    return stability_rows(answers, reps, seed)
