"""Ad-hoc commands of the ``benchtrust`` CLI (issue 14 item 1): ``eval`` (no YAML needed), ``compare`` and the
listing verbs ``models``, ``benchmarks`` and ``profiles``.

``eval`` writes its model, benchmark (when a file) and run profile to the data folder's registry
(:mod:`benchtrust.adhoc`; config/ is never written), then runs exactly what ``benchtrust run --profile <that
profile>`` runs: Dagster backfills submitted and followed through :func:`pipelines.run.run_profile` — this module
executes no asset. ``compare`` reads ``marts.model_comparisons`` on a read-only connection, as ``query`` does.
:func:`register` adds the commands to the app of :mod:`pipelines.cli`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from benchtrust.settings import get_settings

NO_WAREHOUSE = "no warehouse at {}; run `benchtrust run` (or `benchtrust eval`) first"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message.splitlines()[0] if message else 'failed'}", err=True)
    return typer.Exit(code)


def _table(headers: list[str], rows: list[list[str]]) -> None:
    """A compact plain-text table (aligned columns, no frame), stable when piped."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for r in [headers, *rows]:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _warehouse_rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of a parameterised query on a locked-down read-only connection (benchtrust.query's)."""
    from benchtrust.query import WarehouseBusy, connect_readonly

    s = get_settings()
    if not s.warehouse.exists():
        raise _fail(NO_WAREHOUSE.format(s.warehouse))
    try:
        con = connect_readonly(s.warehouse, wait_s=30.0)
    except WarehouseBusy as e:
        raise _fail(str(e), 3) from None
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------------ eval
def _headline(model: str, benchmark: str) -> list[str]:
    """The latest report of ``model`` × ``benchmark``: headline accuracy with its interval, and the report path."""
    rows = _warehouse_rows(
        "select r.accuracy, r.ci_low, r.ci_high, r.ci_method, r.ci_level, r.n_scored, r.headline_template, "
        "v.report_path from marts.reliability_report as r join marts.report_versions as v "
        "using (model, benchmark, dataset_version, report_version) "
        "where r.model = ? and r.benchmark = ? and r.is_latest",
        [model, benchmark],
    )
    if not rows:
        return []
    acc, lo, hi, method, level, n, template, path = rows[0]
    if acc is None:
        head = f"{model} × {benchmark}: no scored items (n={n})"
    else:
        head = (
            f"{model} × {benchmark}: accuracy {acc:.3f}, {(level or 0.95):.0%} CI [{lo:.3f}, {hi:.3f}] ({method}), "
            f"n={n}, template {template}"
        )
    return [head, f"report: {path}" + ("" if Path(path).exists() else " (not written)")]


def eval_(
    model: str = typer.Option(..., "--model", "-m", help="hf:<id or folder> | gguf:<file> | openai:<base_url>#<model>"),
    benchmark: str = typer.Option(
        ..., "--benchmark", "-b", help="a registered benchmark (mmlu) or a JSONL/CSV/Parquet file"
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="evaluate N items, drawn deterministically by --seed"
    ),
    per_subject: int | None = typer.Option(None, "--per-subject", min=1, help="N items per subject (stratified)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of the item draw (and of the few-shot examples)"),
    template: str | None = typer.Option(None, "--template", "-t", help="prompt template id (config/templates.yaml)"),
    fewshot: int | None = typer.Option(None, "--fewshot", "-k", min=0, help="few-shot examples per prompt"),
    name: str | None = typer.Option(None, "--name", help="model name (default: derived from the id or file)"),
    benchmark_name: str | None = typer.Option(None, "--benchmark-name", help="name of a file benchmark"),
    no_wait: bool = typer.Option(False, "--no-wait", help="refuse instead of waiting when the data folder is busy"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="stream Dagster's events to the console"),
    log_file: Path | None = typer.Option(None, "--log-file", dir_okay=False, help="keep Dagster's event stream here"),
) -> None:
    """Evaluate a model on a benchmark without editing config/: the model, the benchmark (when a file) and a run
    profile are registered in the data folder, then the profile runs as `benchtrust run --profile` would (Dagster
    backfills, visible in the UI). Prints the headline accuracy with its interval and the report path."""
    from benchtrust.adhoc import Selection, register_adhoc
    from benchtrust.registry import RegistryError
    from pipelines.console import print_failures
    from pipelines.daemon import BusyError
    from pipelines.run import run_log_path, run_profile

    if limit and per_subject:
        raise _fail("give --limit or --per-subject, not both")
    s = get_settings()
    sel = Selection(limit=limit, per_subject=per_subject, seed=seed, template=template, fewshot=fewshot)
    try:
        e = register_adhoc(s.config_dir, s.home, model, benchmark, sel, name=name, benchmark_name=benchmark_name)
    except (RegistryError, ValueError) as err:
        raise _fail(str(err)) from None
    typer.echo(
        f"model {e.model!r}, benchmark {e.benchmark!r}, profile {e.profile!r}"
        + (f" (registered in {e.written[0].parent})" if e.written else " (already registered)"),
        err=True,
    )
    try:
        summary = run_profile(
            e.profile,
            live=sys.stderr.isatty(),
            wait=not no_wait,
            verbose=verbose,
            log_file=log_file.resolve() if log_file else None,
            log=lambda m: typer.echo(m, err=True),
        )
    except (RegistryError, BusyError) as err:
        raise _fail(str(err)) from None
    if not summary.ok:
        logs = log_file or (None if verbose else run_log_path(s.home))
        print_failures(summary.failed, f"benchtrust run --profile {e.profile}", logs)
        raise typer.Exit(1)
    lines = _headline(e.model, e.benchmark)
    if not lines:
        raise _fail(f"no report row for {e.model} × {e.benchmark} in marts.reliability_report", 1)
    typer.echo("\n".join(lines))
    typer.echo(f"again: benchtrust run --profile {e.profile}", err=True)


# --------------------------------------------------------------------------------------------------- compare
COMPARE_SQL = (
    "select benchmark, model_a, model_b, n_shared, acc_a, acc_b, delta, n_only_a, n_only_b, mcnemar_p, mde_normal "
    "from marts.model_comparisons where comparison = 'models' "
    "and ((model_a = ? and model_b = ?) or (model_a = ? and model_b = ?)) order by benchmark"
)


def _comparison_line(a: str, b: str, row: tuple[Any, ...]) -> str:
    bench, model_a, _, n, acc_a, acc_b, delta, only_a, only_b, p, mde = row
    if not n:
        return f"{bench}: {a} vs {b}: no shared items"
    if model_a != a:  # the mart orders each pair by name; print it in the order asked
        acc_a, acc_b, delta, only_a, only_b = acc_b, acc_a, -delta, only_b, only_a
    mde_text = f"MDE {mde:.3f} (80% power, α 0.05)" if mde is not None else "MDE n/a (no discordant items)"
    return (
        f"{bench}: {a} vs {b} on {n} shared items: accuracy {acc_a:.3f} vs {acc_b:.3f}, "
        f"difference ({b} − {a}) {delta:+.3f}; discordant {only_a} / {only_b}; McNemar p {p:.3g}; {mde_text}"
    )


def compare(
    model_a: str = typer.Argument(..., help="first model (as in marts.reliability_report)"),
    model_b: str = typer.Argument(..., help="second model"),
    benchmark: str | None = typer.Option(None, "--benchmark", "-b", help="this benchmark only"),
) -> None:
    """Paired comparison of two models on their shared items (marts.model_comparisons): accuracy difference,
    discordant counts, exact McNemar p and the minimum detectable effect."""
    if model_a == model_b:
        raise _fail("give two different models")
    known = sorted(r[0] for r in _warehouse_rows("select distinct model from marts.report_versions", []))
    for m in (model_a, model_b):
        if m not in known:
            raise _fail(f"unknown model {m!r}; models with results: {', '.join(known) or '(none)'}")
    if benchmark is not None:
        benches = sorted(r[0] for r in _warehouse_rows("select distinct benchmark from marts.report_versions", []))
        if benchmark not in benches:
            raise _fail(f"unknown benchmark {benchmark!r}; benchmarks with results: {', '.join(benches)}")
    rows = [
        r
        for r in _warehouse_rows(COMPARE_SQL, [model_a, model_b, model_b, model_a])
        if benchmark is None or r[0] == benchmark
    ]
    if not rows:
        where = f"on {benchmark}" if benchmark else "on any benchmark"
        typer.echo(f"{model_a} vs {model_b}: no shared items (no results of both {where})")
        return
    for r in rows:
        typer.echo(_comparison_line(model_a, model_b, r))


# ---------------------------------------------------------------------------------------------- listing verbs
def _registry() -> Any:
    from benchtrust.registry import Registry, RegistryError

    reg = Registry.load()
    try:
        for key in ("models", "benchmarks", "profiles"):
            getattr(reg, key)
    except RegistryError as e:
        raise _fail(str(e)) from None
    return reg


def _origin(reg: Any, key: str, name: str) -> str:
    return "config" if reg.origin(key, name).parent == reg.config_dir else "ad-hoc"


def _where(source: dict[str, Any]) -> str:
    if source.get("type") == "openai":
        return f"{source.get('base_url') or ','.join(source.get('base_urls') or [])}#{source.get('model')}"
    keys = ("path", "id", "name", "requirement")
    return next((str(source[k]) for k in keys if source.get(k)), "(built in)")


def models() -> None:
    """List the registered models: config/models.yaml and the data folder's ad-hoc entries."""
    reg = _registry()
    rows = []
    for m, e in sorted(reg.models.items()):
        src = (e or {}).get("source") or {}
        rows.append([m, str(src.get("type")), _where(src), _origin(reg, "models", m)])
    _table(["model", "source", "where", "registry"], rows)


def benchmarks() -> None:
    """List the registered benchmarks: config/benchmarks.yaml and the data folder's ad-hoc entries."""
    reg = _registry()
    rows = []
    for b, e in sorted(reg.benchmarks.items()):
        src = (e or {}).get("source") or {}
        templates = ",".join(((e or {}).get("grid") or {}).get("templates") or [])
        rows.append([b, str(src.get("type")), _where(src), templates, _origin(reg, "benchmarks", b)])
    _table(["benchmark", "source", "where", "templates", "registry"], rows)


def _subset_text(pb: dict[str, Any] | None) -> str:
    sub = (pb or {}).get("subset") or {}
    return ",".join(f"{k}={v}" for k, v in sub.items() if k != "seed") or "all"


def profiles() -> None:
    """List the run profiles: config/profiles.yaml and the data folder's ad-hoc ones (`benchtrust eval`)."""
    reg = _registry()
    rows = []
    for p, e in sorted(reg.profiles.items()):
        benches = " ".join(f"{b}[{_subset_text(pb)}]" for b, pb in (e.get("benchmarks") or {}).items())
        rows.append([p, ",".join(e.get("models") or []), benches, _origin(reg, "profiles", p)])
    _table(["profile", "models", "benchmarks[items]", "registry"], rows)


def register(app: typer.Typer) -> None:
    """Add the ad-hoc commands to the ``benchtrust`` app."""
    app.command("eval")(eval_)
    app.command("compare")(compare)
    app.command("models")(models)
    app.command("benchmarks")(benchmarks)
    app.command("profiles")(profiles)
