"""CI gating on the reports' verdicts (``benchtrust run|eval --fail-on red``) and opening the reports
(``benchtrust report --open``).

The verdicts are the ones the written reports show (``report.json`` of each latest report version: one rule per
audit, :mod:`benchtrust.report.verdicts`), read for the models × benchmarks a command ran, so a gate fails on
exactly what a reader of those reports would see as red (or amber).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LEVELS = ("red", "amber")
_SEVERITY = {"green": 0, "amber": 1, "red": 2}


def verdict_failures(
    warehouse: Path,
    reports: Path,
    level: str,
    models: Iterable[str] | None = None,
    benchmarks: Iterable[str] | None = None,
) -> list[str]:
    """'model × benchmark: audit is red (value …)' for every audit verdict at ``level`` or worse in the latest
    reports of these models × benchmarks (all when None). A latest report without a written report.json counts
    as a failure too: a gate must not pass on a report it could not read."""
    import duckdb

    from benchtrust.report.paths import report_folder
    from pipelines.console import latest_reports_sql

    if level not in LEVELS:
        raise ValueError(f"--fail-on takes one of {list(LEVELS)}, not {level!r}")
    if not warehouse.exists():
        return [f"no warehouse at {warehouse}: nothing to gate on"]
    # unlike the console's report_rows, a warehouse that cannot be read fails the gate loudly (the error propagates)
    sql, params = latest_reports_sql("model, benchmark, report_version", models, benchmarks)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(sql + " order by benchmark, model", params).fetchall()
    finally:
        con.close()
    out: list[str] = []
    for model, benchmark, version in rows:
        path = report_folder(reports, model, benchmark, version) / "report.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            out.append(f"{model} × {benchmark}: report {path} unreadable ({e.__class__.__name__})")
            continue
        for v in data.get("verdicts", []):
            if _SEVERITY.get(v.get("status"), -1) >= _SEVERITY[level]:
                out.append(f"{model} × {benchmark}: {v.get('audit')} is {v.get('status')}" + _detail(v))
    return out


def _detail(v: dict[str, Any]) -> str:
    """' (60.3 points: > 10 points: too few items …)' from the verdict's shown value and the rule it met."""
    text = ": ".join(str(x) for x in (v.get("shown"), v.get("rule")) if x and x != "—")
    return f" ({text})" if text else ""


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in the user's browser (``$BROWSER`` or the platform's default); False if none could."""
    import webbrowser

    return webbrowser.open(path.resolve().as_uri())
