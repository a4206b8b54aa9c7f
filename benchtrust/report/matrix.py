"""The benchmark page's matrix of paired accuracy differences: row model minus column model on their shared items,
with a significance mark from the exact McNemar p-value. Every cell formats one marts.model_comparisons row (as
:func:`benchtrust.report.format.oriented` shapes it); nothing is recomputed here."""

from __future__ import annotations

from typing import Any

SIGNIFICANCE: tuple[tuple[float, str], ...] = ((0.01, "**"), (0.05, "*"))
LEGEND = (
    "Cell: accuracy of the row model minus the column model, in points, on the items both answered (same id and "
    "content). ** exact two-sided McNemar p < 0.01, * p < 0.05, no mark: not distinguishable at α = 0.05 "
    "(marts.model_comparisons.mcnemar_p). Grey: no shared items, so no test."
)


def significance_mark(p: float | None) -> str:
    """``**`` for p < 0.01, ``*`` for p < 0.05, ``""`` otherwise or without a p-value."""
    if p is None:
        return ""
    for bound, mark in SIGNIFICANCE:
        if p < bound:
            return mark
    return ""


def _cell(pair: dict[str, Any], row_is_a: bool) -> dict[str, Any]:
    """One off-diagonal cell from the pair's mart row (``delta`` there is acc_b − acc_a)."""
    n = pair.get("n_shared") or 0
    if not n:
        return {"kind": "none", "n_shared": 0, "status": "no shared items"}
    delta = pair.get("delta")
    p = pair.get("mcnemar_p")
    return {
        "kind": "pair",
        "n_shared": n,
        "delta": None if delta is None else (-delta if row_is_a else delta),
        "mcnemar_p": p,
        "mark": significance_mark(p),
        "mde": pair.get("mde"),
        "mde_method": pair.get("mde_method"),
        "status": pair.get("status"),
    }


def comparison_matrix(models: list[str], pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the matrix in the order of ``models`` (the ranking): each ``{"model", "cells"}``, a cell per column
    model — ``kind`` "self" on the diagonal, "none" for a pair without shared items (greyed, no p-value),
    "missing" for a pair the mart does not hold, else "pair" with the row − column difference and its mark."""
    by_pair = {(p["model_a"], p["model_b"]): p for p in pairs}
    rows = []
    for r in models:
        cells: list[dict[str, Any]] = []
        for c in models:
            if r == c:
                cells.append({"kind": "self"})
            elif (r, c) in by_pair:
                cells.append(_cell(by_pair[(r, c)], row_is_a=True))
            elif (c, r) in by_pair:
                cells.append(_cell(by_pair[(c, r)], row_is_a=False))
            else:
                cells.append({"kind": "missing", "status": "not compared"})
        rows.append({"model": r, "cells": cells})
    return rows
