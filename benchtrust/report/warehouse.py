"""Warehouse reads of one report (read-only connection): the headline cells, seeds, templates, provenance, what
changed against the previous version, comparisons with other models, and the audits as their marts hold them.

Every query takes its values as parameters; the audits are read and shaped here, never recomputed (the statistics
live in dbt and :mod:`benchtrust.stats`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from benchtrust.lake import latest_pointer
from benchtrust.report import changes as ch
from benchtrust.report.format import EXACT_MDE_MAX_PAIRS, clean, oriented, with_interval

MAX_LABEL_ERRORS = 20


def records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a parameterised query as dicts of JSON-able values."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [{c: clean(v) for c, v in zip(cols, row)} for row in cur.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists (a mart an older warehouse may lack)."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchone()
    return bool(row and row[0])


# the report key of marts.predictions / calibration / decoding_gap rows, with its parameters from ``key(h)``
KEY = (
    "model = ? and model_version = ? and benchmark = ? and dataset_version = ? and grid_version is not distinct from ?"
)


def key(h: dict[str, Any]) -> list[Any]:
    """The parameters of :data:`KEY` for a reliability_report row ``h``."""
    return [h["model"], h["model_version"], h["benchmark"], h["dataset_version"], h.get("grid_version")]


def headline_cells(con: duckdb.DuckDBPyConnection, key: list[Any], with_text: bool) -> pd.DataFrame:
    """The headline template's cells of one report key, with gold, option count and the label-error audit."""
    text = ", i.input, i.choices, i.subject as item_subject" if with_text else ""
    return con.execute(
        f"""
        select p.item_id, p.item_hash, p.is_correct, p.prediction, p.predicted_index, p.p_correct, p.option_logprobs,
               p.gold, i.gold_index, len(i.choices) as n_options, p.subject,
               ia.label_error_posterior, ia.suggested_answer {text}
        from marts.predictions p
        left join staging.stg_lake__items i
          on i.benchmark = p.benchmark and i.dataset_version = p.dataset_version and i.item_id = p.item_id
        left join marts.item_audit ia
          on ia.benchmark = p.benchmark and ia.dataset_version = p.dataset_version and ia.item_id = p.item_id
        where p.{KEY.replace(" and ", " and p.")} and p.is_headline
        order by p.item_id""",
        key,
    ).df()


def seeds(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = records(
        con,
        f"""
        select fewshot_seed, permutation_seed, decoding, sample_idx, dtype, attn_implementation,
               count(is_correct) as n_scored, count(*) filter (where is_correct) as n_correct
        from marts.predictions
        where {KEY} and template_id = ?
        group by all order by fewshot_seed, permutation_seed, decoding, sample_idx, dtype, attn_implementation""",
        [*key(h), h.get("headline_template")],
    )
    multi_numeric = len({(r["dtype"], r["attn_implementation"]) for r in rows}) > 1
    multi_decoding = len({r["decoding"] for r in rows}) > 1
    for r in rows:
        r["accuracy"] = r["n_correct"] / r["n_scored"] if r["n_scored"] else None
        r["label"] = (
            f"few-shot seed {r['fewshot_seed']} · order {r['permutation_seed']}"
            + (f" · {r['decoding']}" if multi_decoding else "")
            + f" · sample {r['sample_idx']}"
            + (f" · {r['dtype']}/{r['attn_implementation']}" if multi_numeric else "")
        )
    return with_interval(rows)


def previous_key(con: duckdb.DuckDBPyConnection, lineage: dict[str, Any]) -> dict[str, Any] | None:
    prev = lineage.get("previous_report_version")
    if not prev:
        return None
    rows = records(
        con,
        "select * from marts.reliability_report where model = ? and benchmark = ? and report_version = ?",
        [lineage["model"], lineage["benchmark"], prev],
    )
    return rows[0] if rows else None


def version_changes(
    con: duckdb.DuckDBPyConnection, h: dict[str, Any], lineage: dict[str, Any], new_cells: pd.DataFrame
) -> dict[str, Any] | None:
    prev = previous_key(con, lineage)
    if prev is None:
        return None
    old_cells = headline_cells(con, key(prev), with_text=False)
    diff = ch.item_changes(old_cells, new_cells)
    mart = records(
        con,
        """select * from marts.model_comparisons where comparison = 'versions' and benchmark = ?
                            and model_a = ? and report_version_a = ? and model_b = ? and report_version_b = ?""",
        [h["benchmark"], h["model"], prev["report_version"], h["model"], h["report_version"]],
    )
    paired = diff["paired"]
    if mart:  # the 2×2 and McNemar p come from the warehouse (SQL); the item lists from the same join in Python
        m = mart[0]
        paired.update(
            {
                "n_shared": m["n_shared"],
                "n_both_correct": m["n_both_correct"],
                "n_only_old": m["n_only_a"],
                "n_only_new": m["n_only_b"],
                "n_neither": m["n_neither"],
                "acc_old": m["acc_a"],
                "acc_new": m["acc_b"],
                "delta": m["delta"],
                "agreement": m["agreement"],
                "mcnemar_p": m["mcnemar_p"],
                "mde_normal": m["mde_normal"],
                "power_normal": m["power_normal"],
                "source": "marts.model_comparisons",
            }
        )
    power = ch.paired_power(paired["n_shared"], paired["acc_old"], paired["acc_new"], paired["agreement"])
    inputs = [
        {"input": "dataset version", "previous": prev["dataset_version"], "current": h["dataset_version"]},
        {"input": "model version", "previous": prev["model_version"], "current": h["model_version"]},
        {"input": "grid version", "previous": prev.get("grid_version"), "current": h.get("grid_version")},
    ]
    for i in inputs:
        i["changed"] = i["previous"] != i["current"]
    headline_delta = (
        (h["accuracy"] - prev["accuracy"])
        if h.get("accuracy") is not None and prev.get("accuracy") is not None
        else None
    )
    return {
        "previous_report_version": prev["report_version"],
        "previous_accuracy": prev.get("accuracy"),
        "previous_ci_low": prev.get("ci_low"),
        "previous_ci_high": prev.get("ci_high"),
        "previous_n_scored": prev.get("n_scored"),
        "headline_delta": headline_delta,
        "inputs": inputs,
        **{k: v for k, v in diff.items() if k != "paired"},
        "paired": paired,
        "power": power,
        "summary": ch.interpret(paired, power),
    }


def comparisons(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    if not has_table(con, "marts", "model_comparisons"):
        return []
    rows = records(
        con,
        """
        select * from marts.model_comparisons
        where comparison = 'models' and benchmark = ?
          and ((model_a = ? and report_version_a = ?) or (model_b = ? and report_version_b = ?))
        order by model_a, model_b""",
        [h["benchmark"], h["model"], h["report_version"], h["model"], h["report_version"]],
    )
    return [oriented(r, h["model"], exact=len(rows) <= EXACT_MDE_MAX_PAIRS) for r in rows]


def lake_info(lake: Path | None, benchmark: str, dataset_version: str) -> dict[str, Any]:
    """The lake's LATEST.json of ``benchmark`` when it describes ``dataset_version`` ({} otherwise)."""
    if lake is None:
        return {}
    p = latest_pointer(lake, benchmark)
    try:
        info = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    return info if info.get("dataset_version") == dataset_version else {}


def provenance(con: duckdb.DuckDBPyConnection, h: dict[str, Any], lake: Path | None) -> dict[str, Any]:
    from benchtrust.report.versions import code_versions

    prov = records(
        con,
        f"""
        select any_value(device) as device, any_value(dtype) as dtype, any_value(attn_implementation) as attn_implementation,
               any_value(library_versions) as library_versions, min(computed_at) as first_computed,
               max(computed_at) as last_computed, count(*) as cells
        from marts.predictions where {KEY}""",
        key(h),
    )[0]
    if prov.get("library_versions"):
        try:
            prov["library_versions"] = json.loads(prov["library_versions"])
        except ValueError:
            pass
    prov.update({k: h.get(k) for k in ("model_version", "dataset_version", "grid_version")})
    info = lake_info(lake, h["benchmark"], h["dataset_version"])
    prov["dataset"] = (
        {"source": info.get("source"), "fingerprint": info.get("fingerprint"), "n_items": info.get("n_items")}
        if info
        else {}
    )
    prov["contracts"] = {"benchmark_items": info.get("contract_version")} if info.get("contract_version") else {}
    # the predictions suite version travels with the rows it validated (staging keeps it; marts need not)
    pred_contracts = [
        r[0]
        for r in con.execute(
            f"select distinct contract_version from staging.stg_lake__predictions where {KEY} and contract_version is not null",
            key(h),
        ).fetchall()
    ]
    if pred_contracts:
        prov["contracts"]["predictions"] = ", ".join(sorted(pred_contracts))
    item_contracts = [
        r[0]
        for r in con.execute(
            "select distinct contract_version from staging.stg_lake__items where benchmark = ? and dataset_version = ? "
            "and contract_version is not null",
            [h["benchmark"], h["dataset_version"]],
        ).fetchall()
    ]
    if item_contracts:
        prov["contracts"]["benchmark_items"] = ", ".join(sorted(item_contracts))
    prov["code"] = code_versions()
    return prov


def quarantine(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    return records(
        con,
        """
        select rule, count(*) as n, min(source_row) as first_row, any_value(source_file) as source_file
        from marts.quarantine where benchmark = ? and dataset_version = ? group by rule order by n desc, rule""",
        [h["benchmark"], h["dataset_version"]],
    )


def templates(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = records(
        con,
        f"""
        select template_id, count(is_correct) as n_scored, count(*) filter (where is_correct) as n_correct,
               avg(case when is_correct then 1.0 when not is_correct then 0.0 end) as accuracy,
               bool_or(is_headline) as is_headline
        from marts.predictions
        where {KEY} and is_primary
        group by template_id order by template_id""",
        key(h),
    )
    return with_interval(rows)


def position_bias_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Predicted vs gold answer positions of the headline multiple-choice cells: the position columns of this
    report's marts.calibration row (counts, accuracy by gold position, χ² and df), plus the χ² p-value the mart
    leaves to scipy (``chi2.sf(position_chi2, position_df)``; 0 where a never-gold position is predicted, χ² = +inf)
    and the smallest expected count (Cochran's rule). None without multiple-choice cells that have a gold position."""
    from scipy.stats import chi2 as chi2_dist

    if not has_table(con, "marts", "calibration"):
        return None
    rows = records(
        con,
        f"""
        select n_options, n_unparsed, pred_counts, gold_counts, n_by_position, accuracy_by_position,
               position_chi2, isinf(position_chi2) as chi2_infinite, position_df
        from marts.calibration where {KEY}""",
        key(h),
    )
    if not rows or not sum(rows[0]["n_by_position"] or []):
        return None
    r = rows[0]
    dof, chi2 = r["position_df"], r["position_chi2"]
    if r["chi2_infinite"]:
        p_value: float | None = 0.0
    elif chi2 is not None and dof is not None and dof >= 1:
        p_value = float(chi2_dist.sf(chi2, dof))
    else:
        p_value = None
    support = [g for g in r["gold_counts"] if g > 0]
    return {
        "n": sum(r["n_by_position"]),
        "n_options": r["n_options"],
        "pred_counts": r["pred_counts"],
        "gold_counts": r["gold_counts"],
        "chi2": chi2,
        "dof": dof,
        "p_value": p_value,
        "accuracy_by_position": r["accuracy_by_position"],
        "n_by_position": r["n_by_position"],
        "n_unparsed": r["n_unparsed"],
        "min_expected": float(min(support)) if support else 0.0,
        "source": "marts.calibration",
    }


def label_errors_audit(con: duckdb.DuckDBPyConnection, benchmark: str, dataset_version: str) -> dict[str, Any] | None:
    """Label errors of this dataset version as marts.item_audit holds them (audit 10, int_label_error_posteriors):
    the posterior that the gold is wrong, the suggested answer and each model's vote, for the MAX_LABEL_ERRORS
    most suspicious items by ``label_error_posterior_rank``. Read and formatted only, never recomputed; None when
    the mart has no posterior for this dataset version (fewer than three models)."""
    summary = records(
        con,
        """
        select count(*) as n_items, max(n_models)::integer as n_models,
               count(*) filter (where label_error_posterior >= 0.5) as n_candidates,
               count(*) filter (where is_label_error_candidate) as n_agreement_candidates
        from marts.item_audit
        where benchmark = ? and dataset_version = ? and label_error_posterior_rank is not null""",
        [benchmark, dataset_version],
    )[0]
    if not summary["n_items"]:
        return None
    top = records(
        con,
        """
        select item_id, subject, label_error_posterior_rank as rank, label_error_posterior as posterior,
               suggested_answer, suggested_answer_posterior, share_choosing_gold, share_agreeing_wrong,
               label_error_votes
        from marts.item_audit
        where benchmark = ? and dataset_version = ? and label_error_posterior_rank is not null
        order by label_error_posterior_rank limit ?""",
        [benchmark, dataset_version, MAX_LABEL_ERRORS],
    )
    golds = dict(
        con.execute(
            "select item_id, gold from staging.stg_lake__items where benchmark = ? and dataset_version = ?",
            [benchmark, dataset_version],
        ).fetchall()
    )
    for r in top:
        votes: dict[str, str | None] = json.loads(r.pop("label_error_votes") or "{}")
        r["gold"] = golds.get(r["item_id"])
        r["votes"] = votes
        by_answer: dict[str, list[str]] = {}
        for m, a in sorted(votes.items()):
            by_answer.setdefault(a if a is not None else "(no valid answer)", []).append(m)
        r["votes_by_answer"] = [
            {"answer": a, "models": ms} for a, ms in sorted(by_answer.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
    return {
        **summary,
        "source": "marts.item_audit",
        "rule": "posterior that the gold is wrong ≥ 0.5 (models and the answer key as annotators: one-coin "
        "Dawid–Skene, GLAD, MACE; ranked by their mean rank; the posterior assumes the models err "
        "independently, so it overstates: on held-out MMLU-Redux, 12% of items above 0.99 had a wrong key)",
        "candidates": top,
    }


def decoding_gap_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Greedy against sampled decoding of the same items (marts.decoding_gap, audit 3); None unless the grid
    decodes both ways."""
    if not has_table(con, "marts", "decoding_gap"):
        return None
    rows = records(con, f"select * from marts.decoding_gap where {KEY}", key(h))
    return rows[0] if rows else None


def calibration_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Calibration of the headline multiple-choice cells: the marts.calibration row of this report's key, as it is
    (ECE and the top-label Brier of the confidence in the chosen option, the gold-option Brier of p_correct, AUROC,
    the reliability diagram), plus ``n`` (= n_with_confidence) and the diagram as a list of bins for the plot.
    None without that row or without a cell that has option probabilities."""
    if not has_table(con, "marts", "calibration"):
        return None
    rows = records(
        con,
        f"""
        select model, model_version, benchmark, dataset_version, grid_version, n_cells, n_with_confidence,
               accuracy_with_confidence, mean_confidence, ece, brier_top_label, brier, auroc, n_bins, bin_counts,
               bin_accuracy, bin_confidence
        from marts.calibration where {KEY}""",
        key(h),
    )
    if not rows or not rows[0]["n_with_confidence"]:
        return None
    cal = rows[0]
    k = int(cal["n_bins"])
    cal["bins"] = [
        {
            "lo": b / k,
            "hi": (b + 1) / k,
            "count": cal["bin_counts"][b],
            "accuracy": cal["bin_accuracy"][b],
            "confidence": cal["bin_confidence"][b],
        }
        for b in range(k)
    ]
    cal["n"] = cal["n_with_confidence"]
    cal["confidence"] = "softmax probability of the chosen option over the options' log-likelihoods"
    cal["source"] = "marts.calibration"
    return cal


def ranking_stability_audit(
    con: duckdb.DuckDBPyConnection, benchmark: str, dataset_version: str
) -> dict[str, Any] | None:
    """Does the leaderboard order survive resampling the items? (audit 7): the marts.ranking_stability rows of this
    benchmark × dataset version (benchtrust.audits.leaderboard_stability, run by dbt with a fixed seed), in the
    shape of its ``StabilityReport.as_dict()``. None without rows (fewer than two models, or no shared item)."""
    if not has_table(con, "marts", "ranking_stability"):
        return None
    rows = records(
        con,
        """
        select * from marts.ranking_stability where benchmark = ? and dataset_version = ? order by rank, model""",
        [benchmark, dataset_version],
    )
    if not rows:
        return None
    r0 = rows[0]
    return {
        "models": sorted(r["model"] for r in rows),
        "n_items": r0["n_items"],
        "n_items_dropped": r0["n_items_dropped"],
        "reps": r0["reps"],
        "seed": r0["seed"],
        "tau_mean": r0["tau_mean"],
        "tau_quantiles": [r0["tau_q025"], r0["tau_median"], r0["tau_q975"]],
        "leader": r0["leader"],
        "p_top1_change": r0["p_top1_change"],
        "lomo_leader_flips": {r["model"]: r["lomo_p_top1_change"] for r in rows},
        "rank_probabilities": [
            {k: r[k] for k in ("model", "accuracy", "rank", "p_top1", "mean_rank", "rank_q025", "rank_q975")}
            for r in rows
        ],
        "report_versions": {r["model"]: r["report_version"] for r in rows},
        "source": "marts.ranking_stability",
        "method": (
            f"paired bootstrap of the {r0['n_items']} items every model answered, {r0['reps']} resamples "
            f"(seed {r0['seed']}): Kendall τ-b of each resampled ranking against the full one, P(top-1 "
            "changes), and for each model P(top-1 changes) among the others when it is left out"
        ),
    }


def contamination_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Contamination evidence summarised per signal (marts.contamination_summary), only where that mart exists and
    has rows for this model version on this dataset version: the report never shows a placeholder."""
    if not has_table(con, "marts", "contamination_summary"):
        return None
    try:
        rows = records(
            con,
            """select * from marts.contamination_summary where benchmark = ? and dataset_version = ?
                                and model = ? and model_version = ? order by signal, method""",
            [h["benchmark"], h["dataset_version"], h["model"], h["model_version"]],
        )
    except duckdb.Error:  # a mart of another shape: leave the section out rather than guess
        return None
    return rows or None


def forest(con: duckdb.DuckDBPyConnection, benchmark: str) -> list[dict[str, Any]]:
    return records(
        con,
        """
        select model, model_version, report_version, dataset_version, accuracy, ci_low, ci_high, n_scored
        from marts.reliability_report where benchmark = ? and is_latest order by model""",
        [benchmark],
    )


def lineage(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any]:
    """The marts.report_versions row of this report ({} without that mart or row)."""
    if not has_table(con, "marts", "report_versions"):
        return {}
    rows = records(
        con,
        "select * from marts.report_versions where model = ? and benchmark = ? and report_version = ?",
        [h["model"], h["benchmark"], h["report_version"]],
    )
    return rows[0] if rows else {}
