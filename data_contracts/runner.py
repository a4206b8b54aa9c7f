"""Run a suite with great-expectations 1.x on a DataFrame and return a plain, serialisable result.

dagster-ge targets GX < 1.0, so the Dagster side (assets/checks.py) wraps this result in an AssetCheckResult.
GX's import is slow (~2 s), so it is imported here, inside the call, never at definitions load.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from data_contracts.suites import SUITES, suite_version


@dataclass
class ContractResult:
    suite: str
    version: str
    n_rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)  # severity "error"
    warnings: list[dict[str, Any]] = field(default_factory=list)  # severity "warn"

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if not self.failures and not self.warnings:
            return f"{self.suite} v{self.version}: all expectations met on {self.n_rows} rows"
        parts = []
        for f in self.failures + self.warnings:
            if f.get("missing_columns"):
                parts.append(f"{f['expectation']}: missing columns {f['missing_columns']}")
            else:
                parts.append(f"{f['expectation']}({f.get('column') or ''}): {f['unexpected_count']} rows, e.g. {f['examples']}")
        return f"{self.suite} v{self.version}: " + "; ".join(parts)


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    try:
        ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # progress-bar settings moved between GX releases; they are cosmetic
        pass
    ds = ctx.data_sources.add_pandas("benchtrust")
    return gx, ds


def _batch(df: pd.DataFrame, name: str):
    gx, ds = _context()
    try:
        asset = ds.get_asset(name)
    except LookupError:
        asset = ds.add_dataframe_asset(name)
    try:
        bd = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        bd = asset.add_batch_definition_whole_dataframe("whole")
    return bd.get_batch(batch_parameters={"dataframe": df})


def _gx_safe(df: pd.DataFrame) -> pd.DataFrame:
    """GX's pandas engine cannot hash list cells (unique, set checks): hand it the scalar columns only."""
    import numpy as np

    def is_list_column(col: pd.Series) -> bool:
        nn = col.dropna()
        return len(nn) > 0 and isinstance(nn.iloc[0], (list, tuple, np.ndarray))

    return df[[c for c in df.columns if not is_list_column(df[c])]]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def validate(df: pd.DataFrame, suite: str) -> ContractResult:
    gx, _ = _context()
    specs = SUITES[suite]
    expectations = []
    for cls_name, kwargs, severity in specs:
        col = kwargs.get("column")
        if col is not None and col not in df.columns:
            continue  # missing columns are reported once, by the column-set expectation
        expectations.append((getattr(gx.expectations, cls_name)(**kwargs), severity, cls_name, col))
    gsuite = gx.ExpectationSuite(name=f"{suite}-{suite_version(suite)}", expectations=[e[0] for e in expectations])
    res = _batch(_gx_safe(df), suite).validate(gsuite, result_format="SUMMARY")
    out = ContractResult(suite=suite, version=suite_version(suite), n_rows=len(df))
    by_key = {(_snake(cls_name), col): (severity, cls_name, col) for _, severity, cls_name, col in expectations}
    for r in res.results:  # GX does not keep the suite's order: match results by (type, column)
        if r.success:
            continue
        cfg = r.expectation_config
        severity, cls_name, col = by_key[(cfg.type, cfg.kwargs.get("column"))]
        result = r.result or {}
        detail = {
            "expectation": cls_name, "column": col, "severity": severity,
            "unexpected_count": int(result.get("unexpected_count") or 0),
            "examples": [str(x)[:80] for x in (result.get("partial_unexpected_list") or [])[:5]],
            "observed": str(result.get("observed_value"))[:200] if result.get("observed_value") is not None else None,
        }
        if cls_name == "ExpectTableColumnsToMatchSet":
            detail["missing_columns"] = sorted(set(kwargs_of(specs, cls_name)["column_set"]) - set(df.columns))
        (out.failures if severity == "error" else out.warnings).append(detail)
    return out


def kwargs_of(specs, cls_name: str) -> dict[str, Any]:
    return next(k for c, k, _ in specs if c == cls_name)
