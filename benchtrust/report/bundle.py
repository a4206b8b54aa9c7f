"""Everything one report shows, read from the warehouse (read-only) and computed with ``benchtrust.stats``.

A :class:`ReportBundle` holds numbers only; :mod:`benchtrust.report.render` turns it into HTML (with plots),
Markdown and JSON, so the three formats carry the same numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd

from benchtrust.lake import path_part, safe_name
from benchtrust.report import changes as ch
from benchtrust.report import verdicts as vd

MAX_ITEMS = 100  # rows of the items table (changed items first); counts and audits always use every item
MAX_LABEL_ERRORS = 20


def report_folder(root: Path, model: str, benchmark: str, version: str) -> Path:
    """``<root>/<model>/<benchmark>/<report_version>`` with each part made a safe folder name."""
    return root / path_part(model) / path_part(benchmark) / safe_name(version)


def _clean(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in cur.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, table]).fetchone()[0])


@dataclass
class ReportBundle:
    """One report version of one model × benchmark."""

    headline: dict[str, Any]
    templates: list[dict[str, Any]]
    provenance: dict[str, Any]
    quarantine: list[dict[str, Any]]
    sample_items: list[dict[str, Any]]  # the items table (changed items first, at most MAX_ITEMS)
    audits: dict[str, Any] = field(default_factory=dict)  # position_bias, calibration, seeds
    lineage: dict[str, Any] = field(default_factory=dict)  # the marts.report_versions row
    changes: dict[str, Any] | None = None  # what changed against the previous version (None for the first)
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # against the other models' latest versions
    forest: list[dict[str, Any]] = field(default_factory=list)  # every model's latest score on this benchmark
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.verdicts:
            self.verdicts = [v.to_dict() for v in vd.evaluate(self.headline, self.audits)]

    @property
    def version(self) -> str:
        return self.headline["report_version"]

    @property
    def overall(self) -> str:
        return vd.overall(self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return _clean({
            "report_version": self.version, "overall_verdict": self.overall, "headline": self.headline,
            "verdicts": self.verdicts, "verdict_rules": vd.rules_table(), "lineage": self.lineage,
            "changes": self.changes, "comparisons": self.comparisons, "forest": self.forest,
            "templates": self.templates, "audits": self.audits, "quarantine": self.quarantine,
            "sample_items": self.sample_items, "provenance": self.provenance,
        })


# ----------------------------------------------------------------------------------------------- audits (pure)

def softmax_confidence(option_logprobs: Any) -> float | None:
    """Probability of the chosen (argmax) option after a softmax over the options' log-likelihoods."""
    if option_logprobs is None or option_logprobs is pd.NA or isinstance(option_logprobs, (float, str)):
        return None  # generations (NULL / NA / NaN): no options
    try:
        lp = np.asarray(option_logprobs, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if lp.size == 0 or not np.all(np.isfinite(lp)):
        return None
    p = np.exp(lp - lp.max())
    return float(p.max() / p.sum())


def position_bias_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Predicted vs gold answer positions of the headline multiple-choice cells: the position columns of this
    report's marts.calibration row (counts, accuracy by gold position, χ² and df), plus the χ² p-value the mart
    leaves to scipy (``chi2.sf(position_chi2, position_df)``; 0 where a never-gold position is predicted, χ² = +inf)
    and the smallest expected count (Cochran's rule). None without multiple-choice cells that have a gold position."""
    from scipy.stats import chi2 as chi2_dist

    if not _has_table(con, "marts", "calibration"):
        return None
    rows = _records(con, f"""
        select n_options, n_unparsed, pred_counts, gold_counts, n_by_position, accuracy_by_position,
               position_chi2, isinf(position_chi2) as chi2_infinite, position_df
        from marts.calibration where {_KEY}""", _key(h))
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
    return {"n": sum(r["n_by_position"]), "n_options": r["n_options"], "pred_counts": r["pred_counts"],
            "gold_counts": r["gold_counts"], "chi2": chi2, "dof": dof, "p_value": p_value,
            "accuracy_by_position": r["accuracy_by_position"], "n_by_position": r["n_by_position"],
            "n_unparsed": r["n_unparsed"], "min_expected": float(min(support)) if support else 0.0,
            "source": "marts.calibration"}


def _wilson(k: int, n: int) -> tuple[float | None, float | None]:
    from benchtrust.stats import wilson

    if not n:
        return None, None
    iv = wilson(k, n)
    return float(iv.lo), float(iv.hi)


def _with_interval(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["ci_low"], r["ci_high"] = _wilson(int(r.get("n_correct") or 0), int(r.get("n_scored") or 0))
    return rows


# ------------------------------------------------------------------------------------------- warehouse access

_KEY = "model = ? and model_version = ? and benchmark = ? and dataset_version = ? and grid_version is not distinct from ?"


def _key(h: dict[str, Any]) -> list[Any]:
    return [h["model"], h["model_version"], h["benchmark"], h["dataset_version"], h.get("grid_version")]


def _headline_cells(con: duckdb.DuckDBPyConnection, key: list[Any], with_text: bool) -> pd.DataFrame:
    text = ", i.input, i.choices, i.subject as item_subject" if with_text else ""
    return con.execute(f"""
        select p.item_id, p.item_hash, p.is_correct, p.prediction, p.predicted_index, p.p_correct, p.option_logprobs,
               p.gold, i.gold_index, len(i.choices) as n_options, p.subject,
               ia.label_error_posterior, ia.suggested_answer {text}
        from marts.predictions p
        left join staging.stg_lake__items i
          on i.benchmark = p.benchmark and i.dataset_version = p.dataset_version and i.item_id = p.item_id
        left join marts.item_audit ia
          on ia.benchmark = p.benchmark and ia.dataset_version = p.dataset_version and ia.item_id = p.item_id
        where p.{_KEY.replace(' and ', ' and p.')} and p.is_headline
        order by p.item_id""", key).df()


def _seeds(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = _records(con, f"""
        select fewshot_seed, permutation_seed, decoding, sample_idx, dtype, attn_implementation,
               count(is_correct) as n_scored, count(*) filter (where is_correct) as n_correct
        from marts.predictions
        where {_KEY} and template_id = ?
        group by all order by fewshot_seed, permutation_seed, decoding, sample_idx, dtype, attn_implementation""",
                    _key(h) + [h.get("headline_template")])
    multi_numeric = len({(r["dtype"], r["attn_implementation"]) for r in rows}) > 1
    multi_decoding = len({r["decoding"] for r in rows}) > 1
    for r in rows:
        r["accuracy"] = r["n_correct"] / r["n_scored"] if r["n_scored"] else None
        r["label"] = (f"few-shot seed {r['fewshot_seed']} · order {r['permutation_seed']}"
                      + (f" · {r['decoding']}" if multi_decoding else "") + f" · sample {r['sample_idx']}"
                      + (f" · {r['dtype']}/{r['attn_implementation']}" if multi_numeric else ""))
    return _with_interval(rows)


def _previous_key(con: duckdb.DuckDBPyConnection, lineage: dict[str, Any]) -> dict[str, Any] | None:
    prev = lineage.get("previous_report_version")
    if not prev:
        return None
    rows = _records(con, "select * from marts.reliability_report where model = ? and benchmark = ? and report_version = ?",
                    [lineage["model"], lineage["benchmark"], prev])
    return rows[0] if rows else None


def _changes(con: duckdb.DuckDBPyConnection, h: dict[str, Any], lineage: dict[str, Any],
             new_cells: pd.DataFrame) -> dict[str, Any] | None:
    prev = _previous_key(con, lineage)
    if prev is None:
        return None
    old_cells = _headline_cells(con, _key(prev), with_text=False)
    diff = ch.item_changes(old_cells, new_cells)
    mart = _records(con, """select * from marts.model_comparisons where comparison = 'versions' and benchmark = ?
                            and model_a = ? and report_version_a = ? and model_b = ? and report_version_b = ?""",
                    [h["benchmark"], h["model"], prev["report_version"], h["model"], h["report_version"]])
    paired = diff["paired"]
    if mart:  # the 2×2 and McNemar p come from the warehouse (SQL); the item lists from the same join in Python
        m = mart[0]
        paired.update({"n_shared": m["n_shared"], "n_both_correct": m["n_both_correct"], "n_only_old": m["n_only_a"],
                       "n_only_new": m["n_only_b"], "n_neither": m["n_neither"], "acc_old": m["acc_a"],
                       "acc_new": m["acc_b"], "delta": m["delta"], "agreement": m["agreement"],
                       "mcnemar_p": m["mcnemar_p"], "mde_normal": m["mde_normal"], "power_normal": m["power_normal"],
                       "source": "marts.model_comparisons"})
    power = ch.paired_power(paired["n_shared"], paired["acc_old"], paired["acc_new"], paired["agreement"])
    inputs = [
        {"input": "dataset version", "previous": prev["dataset_version"], "current": h["dataset_version"]},
        {"input": "model version", "previous": prev["model_version"], "current": h["model_version"]},
        {"input": "grid version", "previous": prev.get("grid_version"), "current": h.get("grid_version")},
    ]
    for i in inputs:
        i["changed"] = i["previous"] != i["current"]
    headline_delta = (h["accuracy"] - prev["accuracy"]) if h.get("accuracy") is not None and prev.get("accuracy") is not None else None
    return {"previous_report_version": prev["report_version"], "previous_accuracy": prev.get("accuracy"),
            "previous_ci_low": prev.get("ci_low"), "previous_ci_high": prev.get("ci_high"),
            "previous_n_scored": prev.get("n_scored"), "headline_delta": headline_delta, "inputs": inputs,
            **{k: v for k, v in diff.items() if k != "paired"}, "paired": paired, "power": power,
            "summary": ch.interpret(paired, power)}


def _comparisons(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    if not _has_table(con, "marts", "model_comparisons"):
        return []
    rows = _records(con, """
        select * from marts.model_comparisons
        where comparison = 'models' and benchmark = ?
          and ((model_a = ? and report_version_a = ?) or (model_b = ? and report_version_b = ?))
        order by model_a, model_b""", [h["benchmark"], h["model"], h["report_version"], h["model"], h["report_version"]])
    return [_oriented(r, h["model"]) for r in rows]


def _oriented(r: dict[str, Any], model: str | None) -> dict[str, Any]:
    """A comparison row seen from ``model`` (this = a, other = b), with the exact MDE and power."""
    flip = model is not None and r["model_b"] == model
    this, other = ("b", "a") if flip else ("a", "b")
    out = {"other_model": r[f"model_{other}"], "other_report_version": r[f"report_version_{other}"],
           "this_model": r[f"model_{this}"], "n_shared": r["n_shared"], "acc_this": r[f"acc_{this}"],
           "acc_other": r[f"acc_{other}"], "delta": None if r["delta"] is None else (r["delta"] if not flip else -r["delta"]),
           "n_both_correct": r["n_both_correct"], "n_only_this": r[f"n_only_{this}"], "n_only_other": r[f"n_only_{other}"],
           "n_neither": r["n_neither"], "agreement": r["agreement"], "mcnemar_p": r["mcnemar_p"],
           "mde_normal": r["mde_normal"], "power_normal": r["power_normal"]}
    # delta = acc_other − acc_this: "how much better is the other model"
    if out["acc_this"] is not None and out["acc_other"] is not None:
        out["delta"] = out["acc_other"] - out["acc_this"]
    power = ch.paired_power(out["n_shared"], out["acc_this"], out["acc_other"], out["agreement"])
    out.update(mde=power["mde"], power_observed=power["power_observed"], power_note=power["note"],
               significant=out["mcnemar_p"] is not None and out["mcnemar_p"] <= ch.ALPHA)
    return out


def _items_table(cells: pd.DataFrame, changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    status: dict[str, str] = {}
    if changes:
        for f in changes.get("flips", []):
            status[f["item_id"]] = f["direction"]
        for e in changes.get("edited", []):
            status[e["item_id"]] = "edited"
        for a in changes.get("added", []):
            status.setdefault(a, "added")
    df = cells.assign(change=cells["item_id"].map(status))
    df = df.assign(_o=df["change"].isna()).sort_values(["_o", "item_id"]).head(MAX_ITEMS)
    out = []
    for r in df.to_dict("records"):
        out.append(_clean({
            "item_id": r["item_id"], "subject": r.get("item_subject") or r.get("subject"), "input": r.get("input"),
            "choices": list(r["choices"]) if r.get("choices") is not None else None, "gold": r.get("gold"),
            "prediction": r.get("prediction"), "is_correct": None if pd.isna(r.get("is_correct")) else bool(r["is_correct"]),
            "p_correct": r.get("p_correct"), "confidence": softmax_confidence(r.get("option_logprobs")),
            "change": r.get("change"),
            # audit 10 from marts.item_audit: P(gold is wrong) and the answer it suggests instead
            "label_error_posterior": r.get("label_error_posterior"), "suggested_answer": r.get("suggested_answer"),
        }))
    return out


def _lake_info(lake: Path | None, benchmark: str, dataset_version: str) -> dict[str, Any]:
    if lake is None:
        return {}
    p = lake / "items" / f"benchmark={benchmark}" / "LATEST.json"
    try:
        info = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    return info if info.get("dataset_version") == dataset_version else {}


def _provenance(con: duckdb.DuckDBPyConnection, h: dict[str, Any], lake: Path | None) -> dict[str, Any]:
    from benchtrust.report.versions import code_versions

    prov = _records(con, f"""
        select any_value(device) as device, any_value(dtype) as dtype, any_value(attn_implementation) as attn_implementation,
               any_value(library_versions) as library_versions, min(computed_at) as first_computed,
               max(computed_at) as last_computed, count(*) as cells
        from marts.predictions where {_KEY}""", _key(h))[0]
    if prov.get("library_versions"):
        try:
            prov["library_versions"] = json.loads(prov["library_versions"])
        except ValueError:
            pass
    prov.update({k: h.get(k) for k in ("model_version", "dataset_version", "grid_version")})
    info = _lake_info(lake, h["benchmark"], h["dataset_version"])
    prov["dataset"] = {"source": info.get("source"), "fingerprint": info.get("fingerprint"),
                       "n_items": info.get("n_items")} if info else {}
    prov["contracts"] = {"benchmark_items": info.get("contract_version")} if info.get("contract_version") else {}
    # the predictions suite version travels with the rows it validated (staging keeps it; marts need not)
    pred_contracts = [r[0] for r in con.execute(
        f"select distinct contract_version from staging.stg_lake__predictions where {_KEY} and contract_version is not null",
        _key(h)).fetchall()]
    if pred_contracts:
        prov["contracts"]["predictions"] = ", ".join(sorted(pred_contracts))
    item_contracts = [r[0] for r in con.execute(
        "select distinct contract_version from staging.stg_lake__items where benchmark = ? and dataset_version = ? "
        "and contract_version is not null", [h["benchmark"], h["dataset_version"]]).fetchall()]
    if item_contracts:
        prov["contracts"]["benchmark_items"] = ", ".join(sorted(item_contracts))
    prov["code"] = code_versions()
    return prov


def _quarantine(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    return _records(con, """
        select rule, count(*) as n, min(source_row) as first_row, any_value(source_file) as source_file
        from marts.quarantine where benchmark = ? and dataset_version = ? group by rule order by n desc, rule""",
                    [h["benchmark"], h["dataset_version"]])


def _templates(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]]:
    rows = _records(con, f"""
        select template_id, count(is_correct) as n_scored, count(*) filter (where is_correct) as n_correct,
               avg(case when is_correct then 1.0 when not is_correct then 0.0 end) as accuracy,
               bool_or(is_headline) as is_headline
        from marts.predictions
        where {_KEY} and is_primary
        group by template_id order by template_id""", _key(h))
    return _with_interval(rows)


def label_errors_audit(con: duckdb.DuckDBPyConnection, benchmark: str, dataset_version: str) -> dict[str, Any] | None:
    """Label errors of this dataset version as marts.item_audit holds them (audit 10, int_label_error_posteriors):
    the posterior that the gold is wrong, the suggested answer and each model's vote, for the MAX_LABEL_ERRORS
    most suspicious items by ``label_error_posterior_rank``. Read and formatted only, never recomputed; None when
    the mart has no posterior for this dataset version (fewer than three models)."""
    summary = _records(con, """
        select count(*) as n_items, max(n_models) as n_models,
               count(*) filter (where label_error_posterior >= 0.5) as n_candidates,
               count(*) filter (where is_label_error_candidate) as n_agreement_candidates
        from marts.item_audit
        where benchmark = ? and dataset_version = ? and label_error_posterior_rank is not null""",
                       [benchmark, dataset_version])[0]
    if not summary["n_items"]:
        return None
    top = _records(con, """
        select item_id, subject, label_error_posterior_rank as rank, label_error_posterior as posterior,
               suggested_answer, suggested_answer_posterior, share_choosing_gold, share_agreeing_wrong,
               label_error_votes
        from marts.item_audit
        where benchmark = ? and dataset_version = ? and label_error_posterior_rank is not null
        order by label_error_posterior_rank limit ?""", [benchmark, dataset_version, MAX_LABEL_ERRORS])
    golds = dict(con.execute("select item_id, gold from staging.stg_lake__items where benchmark = ? and "
                             "dataset_version = ?", [benchmark, dataset_version]).fetchall())
    for r in top:
        votes: dict[str, str | None] = json.loads(r.pop("label_error_votes") or "{}")
        r["gold"] = golds.get(r["item_id"])
        r["votes"] = votes
        by_answer: dict[str, list[str]] = {}
        for m, a in sorted(votes.items()):
            by_answer.setdefault(a if a is not None else "(no valid answer)", []).append(m)
        r["votes_by_answer"] = [{"answer": a, "models": ms} for a, ms in
                                sorted(by_answer.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    return {**summary, "source": "marts.item_audit",
            "rule": "posterior that the gold is wrong ≥ 0.5 (models and the answer key as annotators: one-coin "
                    "Dawid–Skene, GLAD, MACE; ranked by their mean rank; the posterior assumes the models err "
                    "independently, so it overstates: on held-out MMLU-Redux, 12% of items above 0.99 had a wrong key)",
            "candidates": top}


def decoding_gap_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Greedy against sampled decoding of the same items (marts.decoding_gap, audit 3); None unless the grid
    decodes both ways."""
    if not _has_table(con, "marts", "decoding_gap"):
        return None
    rows = _records(con, f"select * from marts.decoding_gap where {_KEY}", _key(h))
    return rows[0] if rows else None


def calibration_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> dict[str, Any] | None:
    """Calibration of the headline multiple-choice cells: the marts.calibration row of this report's key, as it is
    (ECE and the top-label Brier of the confidence in the chosen option, the gold-option Brier of p_correct, AUROC,
    the reliability diagram), plus ``n`` (= n_with_confidence) and the diagram as a list of bins for the plot.
    None without that row or without a cell that has option probabilities."""
    if not _has_table(con, "marts", "calibration"):
        return None
    rows = _records(con, f"""
        select model, model_version, benchmark, dataset_version, grid_version, n_cells, n_with_confidence,
               accuracy_with_confidence, mean_confidence, ece, brier_top_label, brier, auroc, n_bins, bin_counts,
               bin_accuracy, bin_confidence
        from marts.calibration where {_KEY}""", _key(h))
    if not rows or not rows[0]["n_with_confidence"]:
        return None
    cal = rows[0]
    k = int(cal["n_bins"])
    cal["bins"] = [{"lo": b / k, "hi": (b + 1) / k, "count": cal["bin_counts"][b], "accuracy": cal["bin_accuracy"][b],
                    "confidence": cal["bin_confidence"][b]} for b in range(k)]
    cal["n"] = cal["n_with_confidence"]
    cal["confidence"] = "softmax probability of the chosen option over the options' log-likelihoods"
    cal["source"] = "marts.calibration"
    return cal


def ranking_stability_audit(con: duckdb.DuckDBPyConnection, benchmark: str,
                            dataset_version: str) -> dict[str, Any] | None:
    """Does the leaderboard order survive resampling the items? (audit 7): the marts.ranking_stability rows of this
    benchmark × dataset version (benchtrust.audits.leaderboard_stability, run by dbt with a fixed seed), in the
    shape of its ``StabilityReport.as_dict()``. None without rows (fewer than two models, or no shared item)."""
    if not _has_table(con, "marts", "ranking_stability"):
        return None
    rows = _records(con, """
        select * from marts.ranking_stability where benchmark = ? and dataset_version = ? order by rank, model""",
                    [benchmark, dataset_version])
    if not rows:
        return None
    r0 = rows[0]
    return {
        "models": sorted(r["model"] for r in rows), "n_items": r0["n_items"], "n_items_dropped": r0["n_items_dropped"],
        "reps": r0["reps"], "seed": r0["seed"], "tau_mean": r0["tau_mean"],
        "tau_quantiles": [r0["tau_q025"], r0["tau_median"], r0["tau_q975"]], "leader": r0["leader"],
        "p_top1_change": r0["p_top1_change"], "lomo_leader_flips": {r["model"]: r["lomo_p_top1_change"] for r in rows},
        "rank_probabilities": [{k: r[k] for k in ("model", "accuracy", "rank", "p_top1", "mean_rank", "rank_q025",
                                                  "rank_q975")} for r in rows],
        "report_versions": {r["model"]: r["report_version"] for r in rows},
        "source": "marts.ranking_stability",
        "method": (f"paired bootstrap of the {r0['n_items']} items every model answered, {r0['reps']} resamples "
                   f"(seed {r0['seed']}): Kendall τ-b of each resampled ranking against the full one, P(top-1 "
                   "changes), and for each model P(top-1 changes) among the others when it is left out"),
    }


def contamination_audit(con: duckdb.DuckDBPyConnection, h: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Contamination evidence summarised per signal (marts.contamination_summary), only where that mart exists and
    has rows for this model version on this dataset version: the report never shows a placeholder."""
    if not _has_table(con, "marts", "contamination_summary"):
        return None
    try:
        rows = _records(con, """select * from marts.contamination_summary where benchmark = ? and dataset_version = ?
                                and model = ? and model_version = ? order by signal, method""",
                        [h["benchmark"], h["dataset_version"], h["model"], h["model_version"]])
    except duckdb.Error:  # a mart of another shape: leave the section out rather than guess
        return None
    return rows or None


def _forest(con: duckdb.DuckDBPyConnection, benchmark: str) -> list[dict[str, Any]]:
    return _records(con, """
        select model, model_version, report_version, dataset_version, accuracy, ci_low, ci_high, n_scored
        from marts.reliability_report where benchmark = ? and is_latest order by model""", [benchmark])


def build_bundle(con: duckdb.DuckDBPyConnection, h: dict[str, Any], lake: Path | None = None,
                 extra_provenance: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> ReportBundle:
    """The bundle of one marts.reliability_report row."""
    lineage = {}
    if _has_table(con, "marts", "report_versions"):
        rows = _records(con, "select * from marts.report_versions where model = ? and benchmark = ? and report_version = ?",
                        [h["model"], h["benchmark"], h["report_version"]])
        lineage = rows[0] if rows else {}
    cells = _headline_cells(con, _key(h), with_text=True)
    audits: dict[str, Any] = {"seeds": _seeds(con, h)}
    audits["position_bias"] = position_bias_audit(con, h)
    audits["calibration"] = calibration_audit(con, h)
    audits["label_errors"] = label_errors_audit(con, h["benchmark"], h["dataset_version"])
    audits["contamination"] = contamination_audit(con, h)
    audits["decoding_gap"] = decoding_gap_audit(con, h)
    changes = _changes(con, h, lineage, cells) if lineage else None
    prov = _provenance(con, h, lake)
    if extra_provenance:
        extra = dict(extra_provenance(h) or {})
        # contract versions merge: the rows' own versions (from the lake) win over instance metadata
        prov["contracts"] = {**extra.pop("contracts", {}), **prov.get("contracts", {})}
        prov.update(extra)
    return ReportBundle(
        headline=h, templates=_templates(con, h), provenance=prov, quarantine=_quarantine(con, h),
        sample_items=_items_table(cells, changes), audits=audits, lineage=lineage, changes=changes,
        comparisons=_comparisons(con, h), forest=_forest(con, h["benchmark"]),
    )


def build_bundles(warehouse: Path, latest_only: bool = True, lake: Path | None = None,
                  skip: Callable[[dict[str, Any]], bool] | None = None,
                  extra_provenance: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> list[ReportBundle]:
    """Bundles for the latest report of every model × benchmark (``latest_only``) or for every version;
    ``skip(row)`` leaves out rows (e.g. versions already written)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        heads = _records(con, "select * from marts.reliability_report"
                         + (" where is_latest" if latest_only else "") + " order by benchmark, model, written_at")
        return [build_bundle(con, h, lake, extra_provenance) for h in heads if not (skip and skip(h))]
    finally:
        con.close()


# ---------------------------------------------------------------------------------------- benchmark index pages

@dataclass
class BenchmarkIndex:
    """One page per benchmark across models: every model's latest score (forest plot), verdicts and the paired
    comparisons between them."""

    benchmark: str
    rows: list[dict[str, Any]]  # latest report per model, with its overall verdict and link
    comparisons: list[dict[str, Any]]
    label_errors: dict[str, Any] | None = None
    ranking_stability: dict[str, Any] | None = None

    @property
    def version(self) -> str:
        from benchtrust.hashing import hash_obj
        from benchtrust.report.versions import code_versions

        return hash_obj([self.benchmark, sorted((r["model"], r["report_version"]) for r in self.rows),
                         code_versions().get("report_format")])

    def to_json(self) -> dict[str, Any]:
        return _clean({"benchmark": self.benchmark, "index_version": self.version, "models": self.rows,
                       "comparisons": self.comparisons, "label_errors": self.label_errors,
                       "ranking_stability": self.ranking_stability})


def build_indexes(warehouse: Path, reports_root: Path) -> list[BenchmarkIndex]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        benches = [r["benchmark"] for r in _records(con, "select distinct benchmark from marts.reliability_report order by 1")]
        out = []
        for b in benches:
            # ranked: best accuracy first, ties share the better rank
            rows = sorted(_forest(con, b), key=lambda r: (-(r["accuracy"] if r["accuracy"] is not None else -1),
                                                           r["model"]))
            for r in rows:
                r["rank"] = 1 + sum(1 for o in rows if o["accuracy"] is not None and r["accuracy"] is not None
                                    and o["accuracy"] > r["accuracy"])
                data = _read_report_json(reports_root, r["model"], b, r["report_version"])
                r["overall_verdict"] = data.get("overall_verdict")
                r["verdicts"] = {v["audit"]: v["status"] for v in data.get("verdicts", [])}
                r["href"] = f"{path_part(r['model'])}/{path_part(b)}/{r['report_version']}/report.html"
            comps = []
            if _has_table(con, "marts", "model_comparisons"):
                for c in _records(con, """select * from marts.model_comparisons where comparison = 'models'
                                          and benchmark = ? order by model_a, model_b""", [b]):
                    o = _oriented(c, c["model_a"])
                    comps.append({"model_a": c["model_a"], "model_b": c["model_b"], **{k: v for k, v in o.items()
                                                                                       if k not in ("other_model", "this_model")}})
            versions = {r["dataset_version"] for r in rows}
            dv = versions.pop() if len(versions) == 1 else None
            le = label_errors_audit(con, b, dv) if dv else None
            rs = ranking_stability_audit(con, b, dv) if dv else None
            out.append(BenchmarkIndex(b, rows, comps, le, rs))
        return out
    finally:
        con.close()


def _read_report_json(root: Path, model: str, benchmark: str, version: str) -> dict[str, Any]:
    try:
        return json.loads((report_folder(root, model, benchmark, version) / "report.json").read_text())
    except (OSError, ValueError):
        return {}
