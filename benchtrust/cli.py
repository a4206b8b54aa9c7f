"""The ``benchtrust`` command line: run, ui, query, report.

Dagster is imported inside the commands that need it (``run``, ``ui``), keeping ``query`` and ``report``
fast and the core library free of Dagster at import time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from benchtrust.settings import PROJECT_ROOT, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="benchtrust: how far can a benchmark number be trusted?")


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def run(profile: str = typer.Option("default", "--profile", "-p", help="run profile from config/profiles.yaml")):
    """Materialize a run profile: items → predictions → dbt marts → reports."""
    from pipelines.run import run_profile

    summary = run_profile(profile)
    s = get_settings()
    typer.echo(f"profile {profile!r} finished in {summary.seconds:.0f}s; warehouse {s.warehouse}; reports {s.reports}")
    if not summary.ok:
        typer.echo("some runs failed or were blocked by a contract (see above)", err=True)
        raise typer.Exit(1)


@app.command()
def ui(port: int = typer.Option(3000, help="port for the Dagster UI"), host: str = typer.Option("127.0.0.1")):
    """Start the Dagster UI (dagster dev) on this project's code location."""
    s = get_settings()
    env = dict(os.environ, DAGSTER_HOME=os.environ.get("DAGSTER_HOME", str(s.dagster_home)))
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
           "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(cmd, cwd=PROJECT_ROOT, env=env))


@app.command()
def query(sql: Optional[str] = typer.Argument(None, help="SQL to run against the warehouse (read-only)"),
          format: Format = typer.Option(Format.table, "--format", "-f"),
          where: bool = typer.Option(False, "--where", help="print the warehouse path and exit"),
          max_rows: int = typer.Option(10_000, "--max-rows", min=1, help="print at most this many rows"),
          timeout: float = typer.Option(60.0, "--timeout", min=0.1, help="stop the query after this many seconds"),
          wait: float = typer.Option(10.0, "--wait", min=0.0,
                                     help="seconds to wait while dbt build holds the warehouse")):
    """Run read-only SQL on the DuckDB warehouse, e.g. select * from marts.reliability_report.

    Only SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN run, on a connection without file or network
    access (exit code 2 for a refused statement, 3 when the warehouse is being rebuilt or the time limit hit)."""
    import duckdb

    from benchtrust.query import QueryTimeout, Refused, WarehouseBusy, run_query

    s = get_settings()
    if where:
        typer.echo(str(s.warehouse))
        return
    if not sql:
        raise typer.BadParameter("give a SQL statement (or --where)")
    if not s.warehouse.exists():
        typer.echo(f"no warehouse at {s.warehouse}; run `benchtrust run` first", err=True)
        raise typer.Exit(2)
    try:
        res = run_query(s.warehouse, sql, max_rows=max_rows, timeout_s=timeout, wait_s=wait)
    except Refused as e:
        typer.echo(f"refused: {e}", err=True)
        raise typer.Exit(2)
    except (WarehouseBusy, QueryTimeout) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(3)
    except duckdb.Error as e:
        typer.echo(f"query failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
        raise typer.Exit(1)
    if not res.columns:
        return
    cols, rows = res.columns, res.rows
    if res.truncated:
        typer.echo(f"showing the first {max_rows} rows (--max-rows)", err=True)
    if format is Format.json:
        typer.echo(json.dumps([dict(zip(cols, r)) for r in rows], default=str, indent=1))
    elif format is Format.csv:
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(*cols, show_lines=False)
        for r in rows:
            t.add_row(*["" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)) for v in r])
        Console(width=max(120, 16 * len(cols))).print(t)


@app.command()
def report(model: Optional[str] = typer.Argument(None), benchmark: Optional[str] = typer.Argument(None)):
    """Print the path of the latest report(s), optionally for one model and/or benchmark."""
    from benchtrust.report.render import latest_report

    s = get_settings()
    if not s.warehouse.exists():
        typer.echo(f"no warehouse at {s.warehouse}; run `benchtrust run` first", err=True)
        raise typer.Exit(2)
    paths = latest_report(s.reports, s.warehouse, model, benchmark)
    if not paths:
        typer.echo("no report matches", err=True)
        raise typer.Exit(1)
    for p in paths:
        typer.echo(str(p))


@app.command("import")
def import_(
    format: str = typer.Argument(..., help="lm-eval | helm | csv | parquet | jsonl | llm-stability"),
    path: Path = typer.Argument(..., help="file or folder to import"),
    benchmark: Optional[str] = typer.Option(None, help="benchmark name (when the source does not say)"),
    model: Optional[str] = typer.Option(None, help="model name (when the source does not say)"),
    model_version: Optional[str] = typer.Option(None, "--model-version"),
    build: bool = typer.Option(True, help="run dbt build afterwards so the marts include the import"),
    report: bool = typer.Option(True, help="after the build, write the reliability reports and benchmark pages"),
):
    """Import predictions from lm-evaluation-harness, HELM or a CSV/Parquet table into the lake; they pass
    the same contracts as benchtrust's own predictions, and the audits run over them."""
    from benchtrust.importers import import_predictions
    from benchtrust.importers._common import ImportFormatError
    from benchtrust.importers.load import folder_name, write_import
    from benchtrust.lake import quarantine_path, write_parquet
    from data_contracts import validate
    from data_contracts.predictions import split_predictions

    s = get_settings().ensure()
    opts = {k: v for k, v in {"benchmark": benchmark, "model": model, "model_version": model_version}.items() if v}
    try:
        res = import_predictions(format, path, **opts)
    except (ImportFormatError, ValueError) as e:
        typer.echo(f"import failed: {e}", err=True)
        raise typer.Exit(2)
    for w in res.warnings:
        typer.echo(f"note: {w}", err=True)
    good, quarantined = split_predictions(res.canonical_predictions(), res.items, source=str(path))
    if len(quarantined):
        qp = write_parquet(quarantined, quarantine_path(s.lake, "predictions", folder_name(str(good["benchmark"].iloc[0]) if len(good) else "import"),
                                                        f"import__{folder_name(path.name)}"))
        typer.echo(f"{len(quarantined)} row(s) quarantined ({quarantined['rule'].value_counts().to_dict()}): {qp}", err=True)
    result = validate(good, "predictions")
    if not result.success:
        typer.echo(f"contract failed, nothing imported: {result.summary()}", err=True)
        raise typer.Exit(1)
    files = write_import(res, good.assign(contract_version=result.version), s.lake)
    typer.echo(f"imported {len(good)} prediction rows of {good['model'].nunique()} model(s) on "
               f"{good['item_id'].nunique()} items into {len(files)} lake file(s)")
    if build:
        from benchtrust.lake import ensure_layout
        from benchtrust.settings import DBT_PROJECT_DIR

        ensure_layout(s.lake)
        proc = subprocess.run([str(Path(sys.executable).with_name("dbt")), "build", "--profiles-dir", ".", "--quiet"],
                              cwd=DBT_PROJECT_DIR, env=dict(os.environ), capture_output=True, text=True)
        if proc.returncode != 0:
            typer.echo(f"dbt build failed:\n{proc.stdout[-3000:]}", err=True)
            raise typer.Exit(1)
        typer.echo(f"warehouse rebuilt: {s.warehouse}")
        if report:
            from benchtrust.report.render import publish

            pub = publish(s.warehouse, s.reports, lake=s.lake)
            typer.echo(f"{len(pub.written)} new report version(s); benchmark pages: "
                       + ", ".join(str(p) for p in pub.index_paths))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
