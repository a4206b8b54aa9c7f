"""The ``benchtrust`` command line: run, ui, query, report, import, corpus add / scan, corpora.

It lives in the assembly layer (``pipelines/``), not in the core library, because ``run``, ``ui`` and ``import``
submit Dagster runs through :mod:`pipelines.run` (DESIGN.md "Layout": ``benchtrust/`` imports no other layer).
Dagster is imported inside the commands that need it (``run``, ``ui``, ``import``), keeping ``query`` and ``report``
fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from benchtrust.settings import PROJECT_ROOT, get_settings
from pipelines.console import one_line

app = typer.Typer(no_args_is_help=True,  # typer's --install-completion / --show-completion stay on (issue 14)
                  help="benchtrust: how far can a benchmark number be trusted?")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("benchtrust")
        except PackageNotFoundError:  # a checkout that was not pip-installed
            v = "unknown (not installed)"
        typer.echo(f"benchtrust {v}")
        raise typer.Exit()


_DEBUG = {"on": False}  # set by --debug (the root option; main() moves it there from anywhere on the line)


FAIL_ON_HELP = "exit 1 when a latest report has a verdict this bad: red, or amber (amber or red); for CI gating"


def _refuse(e: Exception) -> NoReturn:
    """A usage error: one line and exit code 2; with --debug, the exception itself (its traceback)."""
    if _DEBUG["on"]:
        raise e
    typer.echo(f"error: {one_line(e)}", err=True)
    raise typer.Exit(2) from None


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print benchtrust's version and exit"),
          debug: bool = typer.Option(False, "--debug", help="show tracebacks (errors are one line without it; "
                                                            "also accepted after the verb)")) -> None:
    """benchtrust: how far can a benchmark number be trusted?"""
    _DEBUG["on"] = debug


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def run(profile: str = typer.Option("default", "--profile", "-p", help="run profile from config/profiles.yaml"),
        no_wait: bool = typer.Option(False, "--no-wait", help="refuse, instead of waiting, when another benchtrust "
                                                               "command is using this data folder"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="stream Dagster's events to the console"),
        log_file: Path | None = typer.Option(None, "--log-file", dir_okay=False,
                                             help="keep Dagster's full event stream (and dbt's output) in this file; "
                                                  "the console stays quiet"),
        fail_on: str | None = typer.Option(None, "--fail-on", help=FAIL_ON_HELP)):
    """Materialize a run profile: items → predictions → dbt marts → reports, as Dagster backfills on the instance
    (partitions run side by side within the pools; follow them here or in the UI)."""
    _check_fail_on(fail_on)  # refused before any work, not after it
    from benchtrust.registry import RegistryError
    from pipelines.console import print_failures, print_summary_table, report_rows
    from pipelines.daemon import BusyError
    from pipelines.run import run_log_path, run_profile

    try:
        summary = run_profile(profile, live=sys.stderr.isatty(), wait=not no_wait, verbose=verbose,
                              log_file=log_file.resolve() if log_file else None,
                              log=lambda m: typer.echo(m, err=True))
    except (RegistryError, BusyError) as e:
        _refuse(e)
    s = get_settings()
    print_summary_table(report_rows(s.warehouse, summary.models, summary.benchmarks), s.reports)
    typer.echo(f"profile {profile!r}: {len(summary.runs) - len(summary.failed)} of {len(summary.runs)} runs ok in "
               f"{summary.seconds:.0f}s; warehouse {s.warehouse}; reports {s.reports}")
    if not summary.ok:
        logs = log_file or (None if verbose else run_log_path(s.home))
        print_failures(summary.failed, f"benchtrust run --profile {profile}", logs)
        raise typer.Exit(1)
    _gate(fail_on, summary.models, summary.benchmarks)


@app.command()
def ui(port: int = typer.Option(3000, help="port for the Dagster UI"), host: str = typer.Option("127.0.0.1")):
    """Start the Dagster UI (dagster dev) on this project's code location."""
    from pipelines.instance import get_instance

    s = get_settings()
    env = dict(os.environ, DAGSTER_HOME=os.environ.get("DAGSTER_HOME", str(s.dagster_home)))
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    get_instance()  # the embedded default dagster.yaml (run queue, pools) unless the folder has its own
    cmd = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
           "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(cmd, cwd=PROJECT_ROOT, env=env))


@app.command()
def query(sql: str | None = typer.Argument(None, help="SQL to run against the warehouse (read-only); - reads stdin"),
          file: Path | None = typer.Option(None, "--file", help="read the SQL from this file instead", dir_okay=False),
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
    if file is not None and sql:
        raise typer.BadParameter("give the SQL as an argument or with --file, not both")
    if file is not None:
        try:
            sql = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            typer.echo(f"error: {file}: cannot read the SQL file ({type(e).__name__}: {e})", err=True)
            raise typer.Exit(2) from None
    elif sql == "-":
        sql = sys.stdin.read()
    if not sql or not sql.strip():
        raise typer.BadParameter("give a SQL statement (an argument, - for stdin, or --file), or --where")
    if not s.warehouse.exists():
        typer.echo(f"no warehouse at {s.warehouse}; run `benchtrust run` first", err=True)
        raise typer.Exit(2)
    try:
        res = run_query(s.warehouse, sql, max_rows=max_rows, timeout_s=timeout, wait_s=wait)
    except Refused as e:
        typer.echo(f"refused: {e}", err=True)
        raise typer.Exit(2) from None
    except (WarehouseBusy, QueryTimeout) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(3) from None
    except duckdb.Error as e:
        typer.echo(f"query failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
        raise typer.Exit(1) from None
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
def report(model: str | None = typer.Argument(None), benchmark: str | None = typer.Argument(None),
           index: bool = typer.Option(False, "--index", help="print the index page's path (every benchmark and report)"),
           open_: bool = typer.Option(False, "--open", help="open the report (or the index, when several) in a browser"),
           fail_on: str | None = typer.Option(None, "--fail-on", help=FAIL_ON_HELP)):
    """Print the path of the latest report(s), optionally for one model and/or benchmark."""
    from benchtrust.report.render import latest_report

    s = get_settings()
    if not s.warehouse.exists():
        typer.echo(f"no warehouse at {s.warehouse}; run `benchtrust run` first", err=True)
        raise typer.Exit(2)
    paths = latest_report(s.reports, s.warehouse, model, benchmark)
    if not paths:
        from pipelines.console import report_rows

        rows = report_rows(s.warehouse)
        asked = " and ".join(f"{k} {v!r}" for k, v in (("model", model), ("benchmark", benchmark)) if v)
        typer.echo(f"error: no report for {asked or 'any model'}; models: {sorted({r[0] for r in rows})}, "
                   f"benchmarks: {sorted({r[1] for r in rows})}", err=True)
        raise typer.Exit(2)
    page = s.reports / "index.html"
    for p in [page] if index else paths:
        typer.echo(str(p))
    if open_:
        from pipelines.gating import open_in_browser

        target = page if index or len(paths) > 1 else paths[0]
        if not open_in_browser(target):
            typer.echo(f"no browser to open {target}; open it by hand", err=True)
    _gate(fail_on, [model] if model else None, [benchmark] if benchmark else None)


def _check_fail_on(level: str | None) -> None:
    """A ``--fail-on`` level other than red or amber is a usage error (exit 2)."""
    from pipelines.gating import LEVELS

    if level is not None and level not in LEVELS:
        _refuse(ValueError(f"--fail-on takes one of {list(LEVELS)}, not {level!r}"))


def _gate(level: str | None, models: list[str] | None, benchmarks: list[str] | None) -> None:
    """``--fail-on``: print every verdict at ``level`` or worse (one line each) and exit 1; exit 2 on a bad level."""
    if level is None:
        return
    from pipelines.gating import verdict_failures

    _check_fail_on(level)
    s = get_settings()
    bad = verdict_failures(s.warehouse, s.reports, level, models, benchmarks)
    for line in bad:
        typer.secho(f"--fail-on {level}: {line}", err=True, fg="red")
    if bad:
        raise typer.Exit(1)


def _check_import(format: str, path: Path) -> None:
    """Refuse, in one line and before any run, an unknown format or a missing path."""
    from benchtrust.importers import normalise_format

    try:
        normalise_format(format)
    except ValueError as e:
        _refuse(e)
    if not path.exists():
        _refuse(FileNotFoundError(f"{path}: no such file or folder"))


@app.command("import")
def import_(
    format: str = typer.Argument(..., help="lm-eval | helm | csv | parquet | jsonl | llm-stability"),
    path: Path = typer.Argument(..., help="file or folder to import"),
    benchmark: str | None = typer.Option(None, help="benchmark name (when the source does not say)"),
    model: str | None = typer.Option(None, help="model name (when the source does not say)"),
    model_version: str | None = typer.Option(None, "--model-version"),
    build: bool = typer.Option(True, help="run dbt build afterwards so the marts include the import"),
    report: bool = typer.Option(True, help="after the build, write the reliability reports and benchmark pages"),
    no_wait: bool = typer.Option(False, "--no-wait", help="refuse instead of waiting when the data folder is busy"),
):
    """Import predictions from lm-evaluation-harness, HELM or a CSV/Parquet table into the lake; they pass
    the same contracts as benchtrust's own predictions, and the audits run over them. A Dagster backfill of the
    `imported_predictions` asset (+ the dbt models and reports), so it shows in the UI with its checks."""
    import dagster as dg

    from pipelines.console import print_failures
    from pipelines.daemon import BusyError, command_lock, hosted_daemons
    from pipelines.instance import get_instance
    from pipelines.run import (
        asset_subset,
        follow,
        quiet_loggers,
        recover_interrupted,
        run_log_path,
        submit_backfill,
        warehouse_subset,
    )

    _check_import(format, path)
    s = get_settings().ensure()
    instance = get_instance()
    cfg = {k: v for k, v in {"format": format, "path": str(path.resolve()), "benchmark": benchmark, "model": model,
                             "model_version": model_version}.items() if v}
    key = dg.AssetKey("imported_predictions")
    warehouse = warehouse_subset()
    if not report:
        warehouse = warehouse.filter_asset_keys({k for k in warehouse.asset_keys if k != dg.AssetKey("reliability_reports")})
    # benchtrust/profile marks a command that runs its own chain: automation leaves its updates alone
    tags = {"benchtrust/trigger": "import", "benchtrust/import": path.name[:200], "benchtrust/profile": "import"}
    runs: list[dict] = []
    try:
        with command_lock(s.home, f"import {format} {path.name}", wait=not no_wait,
                          on_wait=lambda who: typer.echo(f"waiting for {who} to finish", err=True)), \
                hosted_daemons(instance, run_log_path(s.home)) as hosting:
            if hosting:
                recover_interrupted(instance, lambda m: typer.echo(m, err=True))
            echo = lambda m: typer.echo(m, err=True)  # noqa: E731
            live = sys.stderr.isatty()
            # two backfills, as for a profile: the import, then (if it passed its contract) the warehouse. In one run
            # the dbt step has no input edge from the import and may run first.
            bf = submit_backfill(instance, asset_subset([key]),
                                 title=f"import {format} {path.name}", tags=tags,
                                 run_config={"ops": {"imported_predictions": {"config": cfg}}, **quiet_loggers()})
            runs += follow(instance, bf, echo, live=live)
            if build and all(r["success"] for r in runs):
                bf = submit_backfill(instance, warehouse, title=f"warehouse (import {path.name})", tags=tags,
                                     run_config=quiet_loggers())
                runs += follow(instance, bf, echo, live=live)
    except BusyError as e:
        _refuse(e)
    recs = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    meta = recs[0].asset_materialization.metadata if recs and recs[0].run_id in {r["run_id"] for r in runs} else {}
    if meta.get("summary"):
        typer.echo(meta["summary"].value)
    failed = [r for r in runs if not r["success"]]
    if failed:
        print_failures(failed, f"benchtrust import {format} {path}", run_log_path(s.home))
        raise typer.Exit(1)
    if build:
        typer.echo(f"warehouse rebuilt: {s.warehouse}")
    if build and report:
        recs = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey("reliability_reports")),
                                               limit=1).records
        pages = recs[0].asset_materialization.metadata.get("benchmark_pages") if recs else None
        typer.echo("benchmark pages: " + ", ".join(pages.value if pages else []))


corpus_app = typer.Typer(no_args_is_help=True, help="Reference corpora for the contamination audits: add, scan.")
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("add")
def corpus_add(name: str = typer.Argument(..., help="corpus name (its partition and lake folder)"),
               location: str = typer.Argument(..., metavar="PATH", help="JSONL / Parquet / CSV / text file, folder "
                                                                        "or glob, or hf:<dataset>"),
               no_embed: bool = typer.Option(False, "--no-embed", help="n-gram and aligned passes only, no "
                                                                       "embeddings (for large corpora)")):
    """Register a reference corpus in the data folder's corpus registry (config/ is left alone); it is merged
    with config/corpora.yaml and gets its `corpora` partition. Scan it with `benchtrust corpus scan NAME`."""
    from benchtrust.contamination.corpora import CorpusError, add_user_corpus, corpus_spec_for

    s = get_settings()
    try:
        spec = corpus_spec_for(location, embed=False if no_embed else None)
        written = add_user_corpus(s.config_dir, s.home, name, spec)
    except (CorpusError, ValueError) as e:  # missing file, taken or unsafe name, an entry that does not validate
        _refuse(e)
    typer.echo(f"corpus {name!r} registered in {written} ({spec['type']} {spec.get('path') or spec.get('name')}"
               f"{', no embeddings' if no_embed else ''}); scan it with: benchtrust corpus scan {name}")


@corpus_app.command("scan")
def corpus_scan(name: str | None = typer.Argument(None, help="corpus to scan (default: every registered corpus)"),
                benchmark: str | None = typer.Option(None, "--benchmark", "-b",
                                                     help="summarise evidence for this benchmark only (its items "
                                                          "are read first when the lake has none)"),
                no_wait: bool = typer.Option(False, "--no-wait", help="refuse instead of waiting when the data "
                                                                       "folder is busy")):
    """Run the contamination pipeline for registered corpora as Dagster backfills (corpus documents, n-gram and
    aligned passes, embeddings and nearest documents where enabled), rebuild the contamination marts, and print
    the evidence summary from marts.contamination_evidence."""
    from pipelines.corpus_scan import ScanError, format_summary, scan_corpora
    from pipelines.daemon import BusyError

    try:
        res = scan_corpora([name] if name else None, benchmark, lambda m: typer.echo(m, err=True),
                           live=sys.stderr.isatty(), wait=not no_wait)
    except (ScanError, BusyError) as e:
        _refuse(e)
    if not res.ok:
        from pipelines.console import print_failures

        again = "benchtrust corpus scan" + (f" {name}" if name else "") + (f" --benchmark {benchmark}" if benchmark else "")
        print_failures([r for r in res.runs if not r["success"]], again)
        raise typer.Exit(1)
    lines = format_summary(res.summary)
    typer.echo("\n".join(lines) if lines else "no contamination evidence rows for " + ", ".join(res.corpora))
    typer.echo(f"details: benchtrust query \"select * from marts.contamination_evidence where corpus = "
               f"'{res.corpora[0]}'\"")


@app.command("corpora")
def corpora_list():
    """List the registered reference corpora (config/corpora.yaml and the data folder's registry)."""
    from benchtrust.contamination.corpora import CorpusError, CorpusRegistry, latest_corpus

    s = get_settings()
    try:
        reg = CorpusRegistry.for_settings(s)
    except (CorpusError, ValueError) as e:
        _refuse(e)
    if not reg.corpora:
        typer.echo("no corpus registered (benchtrust corpus add NAME PATH)")
        return
    for c, spec in reg.corpora.items():
        try:
            version = latest_corpus(s.lake, c)["corpus_version"]
        except (FileNotFoundError, KeyError, ValueError):
            version = "not scanned"
        where = spec.get("path") or spec.get("name") or spec.get("benchmark") or (spec.get("source") or {}).get("path")
        typer.echo(f"{c}\t{spec.get('type') or (spec.get('source') or {}).get('type')}\t{where}\t"
                   f"embed={'yes' if reg.embed(c) else 'no'}\t{version}\t({reg.origins[c]})")


from pipelines.cli_adhoc import register as _register_adhoc  # noqa: E402  eval, compare, models, benchmarks, profiles

_register_adhoc(app)


def usage_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the user asked for something that is not there (exit code 2): registry and YAML
    problems, a busy data folder, unknown corpora, missing files. Imported here, lazily: the CLI stays fast."""
    import yaml

    from benchtrust.contamination.corpus_registry import CorpusError
    from benchtrust.registry import RegistryError
    from pipelines.corpus_scan import ScanError
    from pipelines.daemon import BusyError

    return RegistryError, CorpusError, ScanError, BusyError, FileNotFoundError, yaml.YAMLError


def main(argv: list[str] | None = None) -> None:
    """The console script: every expected mistake is one line on stderr (exit 2 for a usage error, 1 for a failed
    run or an unexpected error), a traceback only with ``--debug`` (anywhere on the line) or BENCHTRUST_DEBUG=1."""
    import click

    args = list(sys.argv[1:] if argv is None else argv)
    cut = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:cut] or os.environ.get("BENCHTRUST_DEBUG") == "1"
    if "--debug" in args[:cut]:  # the root option, wherever it was typed
        args = ["--debug"] + [a for a in args[:cut] if a != "--debug"] + args[cut:]
    try:
        rc = app(args=args, standalone_mode=False)
    except click.ClickException as e:  # usage: no such option, missing argument, bad value
        if debug:
            raise
        ctx = getattr(e, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {one_line(e.format_message())}{hint}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as e:
        if debug:
            raise
        code = 2 if isinstance(e, usage_error_types()) else 1
        typer.echo(f"error: {one_line(e)}" + ("" if code == 2 else " (--debug shows the traceback)"), err=True)
        sys.exit(code)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
