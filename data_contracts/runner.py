"""Run a suite with great-expectations 1.x on a DataFrame and return a plain, serialisable result.

dagster-ge targets GX < 1.0, so the Dagster side (assets/checks.py) wraps this result in an AssetCheckResult.
GX's import is slow (~2.5 s), so it is imported here, inside the call, never at definitions load; the GX
context is built once per process.

Every failing expectation becomes one entry of ``ContractResult.failures`` (severity ``error``) or
``.warnings`` (``warn``) with: which expectation (class, column), how many rows, the share, examples of
the offending values and the ids of rows holding them, and GX's observed value for table-level
expectations. A GX exception inside an expectation is a failure too (never a silent pass).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from data_contracts.derive import DERIVE, PARAM_DERIVED, is_list_column, list_lengths
from data_contracts.suites import ID_COLUMNS, SUITES, suite_version


@dataclass
class ContractResult:
    suite: str
    version: str
    n_rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)  # severity "error"
    warnings: list[dict[str, Any]] = field(default_factory=list)  # severity "warn"
    skipped: list[str] = field(default_factory=list)  # expectations whose parameter was not given
    n_expectations: int = 0

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failed_expectations(self) -> list[str]:
        return [describe(f) for f in self.failures]

    def summary(self, which: str = "all") -> str:
        entries = {"all": self.failures + self.warnings, "errors": self.failures, "warnings": self.warnings}[which]
        if not entries:
            met = {"all": "all expectations met", "errors": "all blocking expectations met", "warnings": "no warnings"}[
                which
            ]
            return f"{self.suite} v{self.version}: {met} on {self.n_rows} rows"
        return f"{self.suite} v{self.version} ({self.n_rows} rows): " + "; ".join(_explain(f) for f in entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "version": self.version,
            "n_rows": self.n_rows,
            "success": self.success,
            "n_expectations": self.n_expectations,
            "failures": self.failures,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


def describe(f: dict[str, Any]) -> str:
    where = f.get("column") or ",".join(f.get("columns") or [])
    return f"{f['expectation']}({where})" if where else f["expectation"]


def _explain(f: dict[str, Any]) -> str:
    head = describe(f)
    if f.get("exception"):
        return f"{head}: raised {f['exception']}"
    if f.get("missing_columns"):
        return f"{head}: missing columns {f['missing_columns']}"
    if f.get("unexpected_count"):
        ex = f.get("example_rows") or f.get("examples")
        return f"{head}: {f['unexpected_count']} rows ({f['unexpected_percent']:.3g}%), e.g. {ex}"
    return f"{head}: observed {f.get('observed')}, expected {f.get('expected')}"


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
    _gx, ds = _context()
    try:
        asset = ds.get_asset(name)
    except LookupError:
        asset = ds.add_dataframe_asset(name)
    try:
        bd = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        bd = asset.add_batch_definition_whole_dataframe("whole")
    return bd.get_batch(batch_parameters={"dataframe": df})


def gx_frame(df: pd.DataFrame) -> pd.DataFrame:
    """GX's pandas engine cannot hash list cells (unique, set checks): it sees each list as its length."""
    lists = [c for c in df.columns if df[c].dtype == object and is_list_column(df[c])]
    if not lists:
        return df
    return df.assign(**{c: list_lengths(df[c]) for c in lists})


def _params_for(suite: str, params: dict[str, Any] | None, items: pd.DataFrame | None) -> dict[str, Any]:
    out = dict(params or {})
    if items is not None and "item_id" in items.columns:
        out.setdefault("item_ids", sorted(set(items["item_id"].dropna().astype(str))))
        if "dataset_version" in items.columns:
            out.setdefault("dataset_versions", sorted(set(items["dataset_version"].dropna().astype(str))))
    return out


def _resolve(kwargs: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, dict) and "$param" in v:
            if v["$param"] not in params:
                return None
            v = list(params[v["$param"]])
        out[k] = v
    return out


def validate(
    df: pd.DataFrame, suite: str, *, params: dict[str, Any] | None = None, items: pd.DataFrame | None = None
) -> ContractResult:
    """Validate ``df`` against ``SUITES[suite]``.

    ``params`` fills the suite's ``{"$param": ...}`` placeholders (``models``, ``model_versions``,
    ``dataset_versions``, ``item_ids``) and table facts (``n_quarantined``: rows the row rules set aside,
    for the quarantine-share expectation). ``items`` is a shortcut for ``item_ids`` / ``dataset_versions``
    (the orphan check of predictions).
    """
    gx, _ = _context()
    specs = SUITES[suite]
    params = _params_for(suite, params, items)
    derived = DERIVE[suite](df, params)
    present = set(df.columns) | set(derived)
    out = ContractResult(suite=suite, version=suite_version(suite), n_rows=len(df))
    expectations, by_key, used = [], {}, set()
    for i, (cls_name, kwargs, severity) in enumerate(specs):
        cols = [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list", []))
        if any(c in PARAM_DERIVED and c not in present for c in cols):
            out.skipped.append(f"{cls_name}({', '.join(cols)}): parameter {PARAM_DERIVED[cols[0]]!r} not given")
            continue
        if any(c not in present for c in cols):
            continue  # missing inputs are reported once, by the column-set expectation
        resolved = _resolve(kwargs, params)
        if resolved is None:
            out.skipped.append(f"{cls_name}({', '.join(cols)}): parameter not given")
            continue
        expectations.append(getattr(gx.expectations, cls_name)(**resolved, meta={"benchtrust_key": i}))
        by_key[i] = (cls_name, kwargs, severity)
        used.update(cols)
        used.update(c for c in kwargs.get("column_set", []) if c in present)
    out.n_expectations = len(expectations)
    ids = [c for c in ID_COLUMNS.get(suite, []) if c in present]
    # GX hashes and copies the frame it is given: hand it only the columns the suite looks at
    keep = [c for c in [*df.columns, *derived] if c in used or c in ids]
    base = df[[c for c in keep if c in df.columns and c not in derived]]
    frame = gx_frame(base.assign(**{c: v for c, v in derived.items() if c in used}))
    gsuite = gx.ExpectationSuite(name=f"{suite}-{out.version}", expectations=expectations)
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
    if ids:
        result_format["unexpected_index_column_names"] = ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _batch(frame, suite).validate(gsuite, result_format=result_format)
    for r in res.results:
        if r.success:
            continue
        cls_name, kwargs, severity = by_key[r.expectation_config.meta["benchtrust_key"]]
        out_list = out.failures if severity == "error" else out.warnings
        out_list.append(_detail(r, cls_name, kwargs, severity, df))
    return out


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and v != v:
        return "NaN"
    return v if isinstance(v, (int, float, bool, str)) or v is None else str(v)[:120]


def _detail(r, cls_name: str, kwargs: dict[str, Any], severity: str, frame: pd.DataFrame) -> dict[str, Any]:
    result = r.result or {}
    detail: dict[str, Any] = {
        "expectation": cls_name,
        "column": kwargs.get("column"),
        "severity": severity,
        "unexpected_count": int(result.get("unexpected_count") or 0),
        "unexpected_percent": float(result.get("unexpected_percent") or 0.0),
        "examples": [
            _jsonable(x) if not isinstance(x, str) else x[:80]
            for x in (result.get("partial_unexpected_list") or [])[:5]
        ],
        "expected": {
            k: v
            for k, v in kwargs.items()
            if k not in ("column", "column_list", "column_set") and not (isinstance(v, dict) and "$param" in v)
        }
        or None,
    }
    if "column_list" in kwargs:
        detail["columns"] = list(kwargs["column_list"])
    if result.get("observed_value") is not None:
        detail["observed"] = _jsonable(result["observed_value"])
    rows = result.get("partial_unexpected_index_list") or []
    if rows and isinstance(rows[0], dict):
        detail["example_rows"] = [{k: _jsonable(v) for k, v in row.items()} for row in rows[:5]]
    if cls_name == "ExpectTableColumnsToMatchSet":
        detail["missing_columns"] = sorted(set(kwargs["column_set"]) - set(frame.columns))
    exc = getattr(r, "exception_info", None) or {}
    if isinstance(exc, dict) and exc.get("raised_exception"):
        detail["exception"] = str(exc.get("exception_message"))[:300]
    return detail
