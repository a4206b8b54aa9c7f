"""What changed between two report versions of one model × benchmark (AUDITS.md audits 5 and 12).

Items are matched by ``item_id``; an item whose ``item_hash`` differs was *edited* (its text, options or gold
changed), so it is listed but left out of the paired test — the question is not the same. On the items shared
unchanged, the two versions' correctness forms a 2×2 table: the exact McNemar test says whether the score
delta is more than chance, and the minimum detectable effect (Card et al. 2020, at this n and the observed
agreement) says how large a change this benchmark could have detected with 80% power.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from typing_extensions import TypeIs  # typing.TypeIs is 3.13+

from benchtrust.stats import mcnemar_exact, minimum_detectable_effect, power_exact

ALPHA = 0.05
POWER = 0.8
MAX_LISTED = 200  # items listed per kind of change (the JSON and the counts always cover all of them)


def _finite(v: Any) -> TypeIs[float]:
    return v is not None and isinstance(v, (int, float, np.floating)) and math.isfinite(float(v))


@functools.lru_cache(maxsize=1 << 16)
def _mde(n: int, base: float, agreement: float) -> float:
    """The exact minimum detectable effect is the expensive part of a comparison (a root search over exact powers:
    ~25 ms at n = 14k since power_exact sums only the central mass of the discordant count and shares its
    rejection bounds; 1.2 s before). A report set asks for the same pair up to three times — in each model's
    report and on the benchmark page — and it depends only on (n, lower accuracy, agreement): computed once."""
    try:
        return float(minimum_detectable_effect(n, base, agreement, alpha=ALPHA, power=POWER, method="exact"))
    except ValueError:
        return float("nan")


@functools.lru_cache(maxsize=1 << 16)
def _power(n: int, acc_old: float, acc_new: float, agreement: float) -> float | None:
    try:
        return float(power_exact(n, acc_old, acc_new, agreement, ALPHA).power)
    except ValueError:  # accuracies and agreement incompatible with Card et al.'s cell model
        return None


def paired_power(n: int, acc_old: float | None, acc_new: float | None, agreement: float | None) -> dict[str, Any]:
    """Exact minimum detectable effect (α = 0.05, power 0.8) at this n and agreement, from the lower of the two
    accuracies, and the power to detect the observed delta (``acc_old`` → ``acc_new``). Undefined values come
    back as None, with a reason in ``note``."""
    out: dict[str, Any] = {"alpha": ALPHA, "target_power": POWER, "mde": None, "power_observed": None,
                           "method": "exact (benchtrust.stats.minimum_detectable_effect / power_exact)", "note": ""}
    if not n or not _finite(acc_old) or not _finite(agreement):
        out["note"] = "no shared scored items"
        return out
    if agreement >= 1.0:
        out["note"] = ("every shared item has the same outcome in both: with no discordant items the paired test "
                       "has nothing to work with, and no difference in accuracy is detectable at this agreement")
        return out
    # McNemar is symmetric: a drop from p to p − Δ is as detectable as a gain from p − Δ to p, so the baseline
    # of the minimum detectable effect is the lower of the two accuracies
    base = min(float(acc_old), float(acc_new)) if _finite(acc_new) else float(acc_old)
    mde = _mde(int(n), base, float(agreement))
    if _finite(mde):
        out["mde"] = float(mde)
    else:
        out["note"] = (f"even the largest change compatible with {100 * agreement:.1f}% agreement is detected with "
                       f"less than {POWER:.0%} power at n = {n}")
    if _finite(acc_new) and acc_new != acc_old:
        out["power_observed"] = _power(int(n), float(acc_old), float(acc_new), float(agreement))
    return out


def _outcome(v: Any) -> bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    return bool(v)


def item_changes(old: pd.DataFrame, new: pd.DataFrame) -> dict[str, Any]:
    """Per-item differences between two versions' headline outcomes.

    Args:
        old, new: one row per item with columns ``item_id``, ``item_hash``, ``is_correct`` (bool or None) and,
            optionally, ``prediction``.

    Returns:
        counts and lists of ``added`` / ``removed`` / ``edited`` items and of ``flips`` (shared unchanged items
        whose correctness changed: ``fixed`` = wrong → right, ``broken`` = right → wrong), plus the 2×2 table,
        exact McNemar p and the accuracies on the shared items.
    """
    o = old.set_index("item_id")
    n = new.set_index("item_id")
    added = sorted(set(n.index) - set(o.index))
    removed = sorted(set(o.index) - set(n.index))
    common = sorted(set(o.index) & set(n.index))
    edited = [i for i in common if o.at[i, "item_hash"] != n.at[i, "item_hash"]]
    same = [i for i in common if o.at[i, "item_hash"] == n.at[i, "item_hash"]]

    def pred(df: pd.DataFrame, i: str) -> Any:
        return df.at[i, "prediction"] if "prediction" in df.columns else None

    flips, both = [], []
    for i in same:
        a, b = _outcome(o.at[i, "is_correct"]), _outcome(n.at[i, "is_correct"])
        if a is None or b is None:
            continue
        both.append((a, b))
        if a != b:
            flips.append({"item_id": i, "item_hash": n.at[i, "item_hash"], "was_correct": a, "is_correct": b,
                          "direction": "fixed" if b else "broken",
                          "old_prediction": pred(o, i), "new_prediction": pred(n, i)})
    arr = np.array(both, dtype=bool).reshape(-1, 2)
    n_shared = int(arr.shape[0])
    both_c = int(np.sum(arr[:, 0] & arr[:, 1]))
    only_old = int(np.sum(arr[:, 0] & ~arr[:, 1]))
    only_new = int(np.sum(~arr[:, 0] & arr[:, 1]))
    neither = n_shared - both_c - only_old - only_new
    acc_old = (both_c + only_old) / n_shared if n_shared else None
    acc_new = (both_c + only_new) / n_shared if n_shared else None
    agreement = (both_c + neither) / n_shared if n_shared else None
    edited_rows = [{"item_id": i, "old_hash": o.at[i, "item_hash"], "new_hash": n.at[i, "item_hash"],
                    "was_correct": _outcome(o.at[i, "is_correct"]), "is_correct": _outcome(n.at[i, "is_correct"])}
                   for i in edited]
    return {
        "n_old": int(len(o)), "n_new": int(len(n)), "n_added": len(added), "n_removed": len(removed),
        "n_edited": len(edited), "n_flips": len(flips),
        "n_fixed": sum(f["direction"] == "fixed" for f in flips), "n_broken": sum(f["direction"] == "broken" for f in flips),
        "added": added[:MAX_LISTED], "removed": removed[:MAX_LISTED], "edited": edited_rows[:MAX_LISTED],
        "flips": flips[:MAX_LISTED],
        "paired": {"n_shared": n_shared, "n_both_correct": both_c, "n_only_old": only_old, "n_only_new": only_new,
                   "n_neither": neither, "acc_old": acc_old, "acc_new": acc_new,
                   "delta": None if acc_old is None or acc_new is None else acc_new - acc_old, "agreement": agreement,
                   "mcnemar_p": float(mcnemar_exact(only_old, only_new)) if n_shared else None},
    }


def interpret(paired: dict[str, Any], power: dict[str, Any]) -> str:
    """One sentence: is the change real, and could this benchmark have seen it?"""
    n, p, delta, mde = paired.get("n_shared"), paired.get("mcnemar_p"), paired.get("delta"), power.get("mde")
    if not n:
        return "No item is shared unchanged between the two versions: the scores cannot be compared item by item."
    if p is not None and p <= ALPHA:
        return (f"The change is real: {100 * (delta or 0):+.1f} points on {n} shared items, exact McNemar p = {p:.2g} "
                f"(≤ {ALPHA}).")
    head = (f"No detectable change: {100 * (delta or 0):+.1f} points on {n} shared items, exact McNemar "
            f"p = {p:.2g} (> {ALPHA}).")
    if mde is not None:
        return head + (f" At this n and agreement the benchmark detects a change of {100 * mde:.1f} points with "
                       f"{POWER:.0%} power; smaller changes can go unnoticed.")
    note = power.get("note") or ""
    return head + (" " + note[0].upper() + note[1:] + "." if note else "")
