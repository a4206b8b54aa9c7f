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
          where: bool = typer.Option(False, "--where", help="print the warehouse path and exit")):
    """Run read-only SQL on the DuckDB warehouse, e.g. select * from marts.reliability_report."""
    import duckdb

    s = get_settings()
    if where:
        typer.echo(str(s.warehouse))
        return
    if not sql:
        raise typer.BadParameter("give a SQL statement (or --where)")
    if not s.warehouse.exists():
        typer.echo(f"no warehouse at {s.warehouse}; run `benchtrust run` first", err=True)
        raise typer.Exit(2)
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        cur = con.execute(sql)
        if cur.description is None:
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    except duckdb.Error as e:
        typer.echo(f"query failed: {e}", err=True)
        raise typer.Exit(1)
    finally:
        con.close()
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
