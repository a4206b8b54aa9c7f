"""Shaping of warehouse values into what a report shows: JSON-safe values, the chosen option's confidence, Wilson
intervals, comparison rows seen from one model, and the items table. Pure functions, no warehouse access."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from benchtrust.report import changes as ch

MAX_ITEMS = 100  # rows of the items table (changed items first); counts and audits always use every item


def clean(v: Any) -> Any:
    """``v`` as plain JSON-able Python: NULL / NA / NaN / ±inf become None, arrays lists, dates ISO strings."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        return [clean(x) for x in v]
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return clean(v.item())
    return v


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


def wilson_bounds(k: int, n: int) -> tuple[float | None, float | None]:
    """The 95% Wilson interval of ``k`` successes in ``n``; (None, None) for n = 0."""
    from benchtrust.stats import wilson

    if not n:
        return None, None
    iv = wilson(k, n)
    return float(iv.lo), float(iv.hi)


def with_interval(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds ``ci_low`` / ``ci_high`` (Wilson, from ``n_correct`` of ``n_scored``) to each row, in place."""
    for r in rows:
        r["ci_low"], r["ci_high"] = wilson_bounds(int(r.get("n_correct") or 0), int(r.get("n_scored") or 0))
    return rows


EXACT_MDE_MAX_N = 1000
"""Largest number of shared items at which a comparison's MDE and power come from the exact computation
(benchtrust.stats.minimum_detectable_effect / power_exact, ~5–6 ms a pair at n ≤ 1,000, ~25 ms at n = 14k). Above
it the normal approximation of marts.model_comparisons (mde_normal, power_normal; Connor 1987) is shown: at
n = 14,014 (HELM MMLU) it is within 0.02 points of the exact MDE. Issue 11: the exact search per pair made a
300-model page take ~19 min."""
EXACT_MDE_MAX_PAIRS = 2000
"""Most exact MDE computations one page or report makes (~10 s); past it every pair uses the mart's normal
approximation, and the page says so."""
METHOD_EXACT = "exact (benchtrust.stats.minimum_detectable_effect / power_exact)"
METHOD_NORMAL = "normal approximation (marts.model_comparisons.mde_normal / power_normal, Connor 1987)"


def comparison_status(n_shared: int | None, p: float | None) -> str:
    """What a comparison says in words: never a p-value without shared items."""
    if not n_shared:
        return "no shared items"
    if p is None:
        return "not tested"
    return "real difference" if p <= ch.ALPHA else "not distinguishable"


def _power_of(out: dict[str, Any], exact: bool) -> dict[str, Any]:
    """MDE and power of an oriented comparison, exact at small n (see EXACT_MDE_MAX_N), else the mart's
    normal approximation; ``mde_method`` names which."""
    n = out["n_shared"] or 0
    if not n:
        return {"mde": None, "power_observed": None, "power_note": "no shared items", "mde_method": None}
    if exact and n <= EXACT_MDE_MAX_N:
        power = ch.paired_power(n, out["acc_this"], out["acc_other"], out["agreement"])
        return {
            "mde": power["mde"],
            "power_observed": power["power_observed"],
            "power_note": power["note"],
            "mde_method": METHOD_EXACT,
        }
    note = "" if out["mde_normal"] is not None else "no discordant items: no difference is detectable"
    return {
        "mde": out["mde_normal"],
        "power_observed": out["power_normal"],
        "power_note": note,
        "mde_method": METHOD_NORMAL,
    }


def oriented(r: dict[str, Any], model: str | None, exact: bool = True) -> dict[str, Any]:
    """A comparison row seen from ``model`` (this = a, other = b), with its MDE and power: exact when ``exact`` and
    n_shared ≤ EXACT_MDE_MAX_N, else the mart's normal approximation (``mde_method`` says which). Without shared
    items there is no p-value (``status`` = "no shared items"), whatever the row holds."""
    flip = model is not None and r["model_b"] == model
    this, other = ("b", "a") if flip else ("a", "b")
    n_shared = r["n_shared"]
    out = {
        "other_model": r[f"model_{other}"],
        "other_report_version": r[f"report_version_{other}"],
        "this_model": r[f"model_{this}"],
        "n_shared": n_shared,
        "acc_this": r[f"acc_{this}"],
        "acc_other": r[f"acc_{other}"],
        "delta": None if r["delta"] is None else (r["delta"] if not flip else -r["delta"]),
        "n_both_correct": r["n_both_correct"],
        "n_only_this": r[f"n_only_{this}"],
        "n_only_other": r[f"n_only_{other}"],
        "n_neither": r["n_neither"],
        "agreement": r["agreement"],
        "mcnemar_p": r["mcnemar_p"] if n_shared else None,
        "mde_normal": r["mde_normal"],
        "power_normal": r["power_normal"],
    }
    # delta = acc_other − acc_this: "how much better is the other model"
    out.update(_power_of(out, exact))
    out.update(
        significant=out["mcnemar_p"] is not None and out["mcnemar_p"] <= ch.ALPHA,
        status=comparison_status(n_shared, out["mcnemar_p"]),
    )
    return out


def items_table(cells: pd.DataFrame, changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The report's items table: changed items first (flips, edits, additions), then by id, at most MAX_ITEMS."""
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
        out.append(
            clean(
                {
                    "item_id": r["item_id"],
                    "subject": r.get("item_subject") or r.get("subject"),
                    "input": r.get("input"),
                    "choices": list(r["choices"]) if r.get("choices") is not None else None,
                    "gold": r.get("gold"),
                    "prediction": r.get("prediction"),
                    "is_correct": None if pd.isna(r.get("is_correct")) else bool(r["is_correct"]),
                    "p_correct": r.get("p_correct"),
                    "confidence": softmax_confidence(r.get("option_logprobs")),
                    "change": r.get("change"),
                    # audit 10 from marts.item_audit: P(gold is wrong) and the answer it suggests instead
                    "label_error_posterior": r.get("label_error_posterior"),
                    "suggested_answer": r.get("suggested_answer"),
                }
            )
        )
    return out
