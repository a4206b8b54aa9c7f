"""What the commands print (issue 14 items 2 and 3): a quiet console by default.

* While backfills run: one line per finished run (its partition, state and time; a warehouse run adds the dbt
  summary), and on a terminal a live view under them — a bar per running inference partition (cells/s, ETA,
  "loading model …" before its first cell) and the current step of other runs ("dbt build", "writing reports").
  The live view reads the runs' own event records (the predictions asset logs its progress there), so it works
  whoever runs the workers: the daemons this command hosts, ``benchtrust ui``'s, or Celery workers.
* At the end: the summary table and the report paths, then failures and blocked partitions, last, in red, with
  the reason and the next command to run.
* Errors: :func:`one_line` turns any exception into one line; :func:`pipelines.cli.main` prints it and exits 2 for
  a usage error, 1 otherwise; ``--debug`` shows the traceback instead.

rich draws both the live view and the table (already a dependency through typer); with no terminal (a pipe, CI,
a log file) only plain lines are printed.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Log = Callable[[str], None]

# the predictions asset's progress lines (assets/predictions.py): "<model> × <benchmark>: 64/285 cells computed"
PROGRESS_RE = re.compile(r": (\d+)/(\d+) cells computed")
LOADING_PREFIX = "loading model "
_DAGSTER_PREFIX = re.compile(
    r"^(?:[\w.]+\.)?(?:Failure|DagsterExecutionStepExecutionError|DagsterUserCodeExecutionError)"
    r": "
)

# steps that are long and silent (a minute or more of report writing after an import): announced without a terminal
NOTE_STEPS = {"writing reports"}
# step keys → what the live view calls them
STEP_NAMES = {
    "benchtrust_dbt_models": "dbt build",
    "reliability_reports": "writing reports",
    "predictions": "scoring",
    "benchmark_items": "reading items",
    "imported_predictions": "importing",
}


_YAML_MARK = re.compile(r'in "[^"]*", line (\d+), column (\d+)')


def _yaml_one_line(text: str) -> str:
    """PyYAML's several-line message (context, a quoted source line, a caret, the problem, marks) as
    'the problem (line L, column C)'; the text before 'not valid YAML:' (the file) is kept."""
    head, _, body = text.partition("not valid YAML:")
    marks, words, after_mark = [], [], False
    for ln in (x.strip() for x in body.splitlines()):
        if m := _YAML_MARK.search(ln):
            marks.append(m)
            after_mark = True  # the next lines quote the source and put a caret under it
        elif ln and not after_mark:
            words.append(ln)
        elif ln.endswith("^"):
            after_mark = False
    problem = words[-1] if words else "syntax error"
    where = f" (line {marks[-1].group(1)}, column {marks[-1].group(2)})" if marks else ""
    return f"{head}not valid YAML: {problem}{where}"


def one_line(e: BaseException | str, limit: int = 400) -> str:
    """An error message as one line: newlines and runs of spaces collapsed, Dagster's class prefixes dropped,
    PyYAML's caret diagrams reduced to the problem and its line and column."""
    text = str(e) if str(e) else type(e).__name__
    if "not valid YAML:" in text and "\n" in text:
        text = _yaml_one_line(text)
    text = " ".join(text.split())
    while (m := _DAGSTER_PREFIX.match(text)) is not None:
        text = text[m.end() :]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def red(text: str) -> None:
    """A line on stderr, red on a terminal."""
    if sys.stderr.isatty():
        from rich.console import Console

        Console(stderr=True, highlight=False).print(text, style="bold red", markup=False, soft_wrap=True)
    else:
        print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- run activity
@dataclass
class Activity:
    """What a running run is doing, from its event records so far."""

    step: str = "starting"
    done: int = 0
    total: int = 0
    loading: str | None = None  # the model being loaded, until its first cells are scored
    started: float = 0.0  # when the first progress line came, and how many cells it counted (for cells/s)
    base: int = 0


class RunActivity:
    """Reads each running run's new event records (cursor per run) into an :class:`Activity`."""

    def __init__(self, instance: Any):
        self.instance = instance
        self.cursors: dict[str, str | None] = {}
        self.state: dict[str, Activity] = {}

    def poll(self, run_id: str) -> Activity:
        act = self.state.setdefault(run_id, Activity())
        while True:
            conn = self.instance.get_records_for_run(run_id, cursor=self.cursors.get(run_id), limit=500)
            for rec in conn.records:
                self._apply(act, rec.event_log_entry)
            self.cursors[run_id] = conn.cursor
            if not conn.has_more:
                return act

    @staticmethod
    def _apply(act: Activity, entry: Any) -> None:
        ev = entry.dagster_event
        if ev is not None:
            if ev.event_type_value == "STEP_START" and ev.step_key:
                act.step = STEP_NAMES.get(ev.step_key.split("[")[0], ev.step_key)
            return
        msg = entry.user_message or ""
        if msg.startswith(LOADING_PREFIX):
            act.loading, act.step = msg[len(LOADING_PREFIX) :].rstrip("…. "), msg.rstrip()
        elif m := PROGRESS_RE.search(msg):
            if not act.started:
                act.started, act.base = entry.timestamp, int(m.group(1))
            act.done, act.total, act.loading, act.step = int(m.group(1)), int(m.group(2)), None, "scoring"

    def forget(self, run_id: str) -> None:
        self.state.pop(run_id, None)
        self.cursors.pop(run_id, None)


# ------------------------------------------------------------------------------------------- live view
class RunView:
    """The console while backfills run: plain lines for finished runs (and models loading, without a terminal),
    and on a terminal a rich live view (a bar per running partition with cells/s and ETA, an overall line)."""

    def __init__(self, log: Log, live: bool):
        self.log, self.live = log, live
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._said: set[tuple[str, str]] = set()
        if live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._overall = self._progress.add_task("", total=None, rate="")

    def line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
        else:
            self.log(text)

    def status(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._overall, description=text)

    def running(self, run_id: str, label: str, act: Activity) -> None:
        """Show a running run: its bar (inference) or its step."""
        if self._progress is None:  # plain lines only for the long silent stretches, each said once per run
            note = f"{LOADING_PREFIX}{act.loading}" if act.loading else act.step if act.step in NOTE_STEPS else None
            if note and (run_id, note) not in self._said:
                self._said.add((run_id, note))
                self.log(f"  {label}: {note} …")
            return
        rate = ""
        if act.done > act.base and act.started:
            per_s = (act.done - act.base) / max(time.time() - act.started, 1e-3)
            rate = f"{per_s:.1f} cells/s"
        desc = f"{label}: {act.step}"
        if run_id not in self._tasks:
            self._tasks[run_id] = self._progress.add_task(desc, total=act.total or None, rate=rate)
        self._progress.update(
            self._tasks[run_id], description=desc, completed=act.done, total=act.total or None, rate=rate
        )

    def finished(self, run_id: str) -> None:
        task = self._tasks.pop(run_id, None)
        if task is not None and self._progress is not None:
            self._progress.remove_task(task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


# ------------------------------------------------------------------------------------------- summaries
def dbt_summary(instance: Any, run_id: str) -> str | None:
    """'N models built, T tests passed, F failed' for a run that built dbt models (its materializations of
    multi-part asset keys, the dbt project's, and its asset-check evaluations), or None when it built none."""
    from dagster._core.events import DagsterEventType

    built = sum(
        1
        for r in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        if len(r.get_dagster_event().asset_key.path) > 1
    )
    if not built:
        return None
    passed = failed = warned = 0
    for r in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        data = r.get_dagster_event().event_specific_data
        if data.passed:
            passed += 1
        elif str(getattr(data.severity, "value", data.severity)).upper() == "WARN":
            warned += 1
        else:
            failed += 1
    return (
        f"{built} models built, {passed} tests passed"
        + (f", {warned} warned" if warned else "")
        + (f", {failed} failed" if failed else "")
    )


def finished_line(info: Mapping[str, Any]) -> str:
    """One line per finished run: state, what and which partition, time, and the dbt summary where there is one."""
    mark = "ok" if info["success"] else ("BLOCKED" if info["failed_checks"] else info["status"])
    label = f"{info['job']} {info['partition']}" if info["partition"] else info["job"]
    extra = f" — {info['dbt']}" if info.get("dbt") else ""
    return f"[{mark}] {label} ({info['seconds']:.1f}s){extra}"


def latest_reports_sql(
    columns: str, models: Iterable[str] | None = None, benchmarks: Iterable[str] | None = None
) -> tuple[str, list[Any]]:
    """``select <columns>`` of the latest marts.reliability_report rows of these models × benchmarks (all when
    None), with its parameters; the caller appends the order."""
    sql = f"select {columns} from marts.reliability_report where is_latest"
    params: list[Any] = []
    for col, vals in (("model", models), ("benchmark", benchmarks)):
        if vals is not None:
            sql += f" and {col} in (select unnest(?::varchar[]))"
            params.append(list(vals))
    return sql, params


def report_rows(
    warehouse: Path, models: Iterable[str] | None = None, benchmarks: Iterable[str] | None = None
) -> list[tuple[Any, ...]]:
    """The latest reliability-report rows (model, benchmark, n, accuracy, CI, prompt spread, report version) of
    these models × benchmarks, read-only; [] when the warehouse has none."""
    import duckdb

    if not warehouse.exists():
        return []
    sql, params = latest_reports_sql(
        "model, benchmark, n_scored, accuracy, ci_low, ci_high, prompt_spread, report_version", models, benchmarks
    )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return []
    try:
        return con.execute(sql + " order by benchmark, model", params).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()


def print_summary_table(rows: list[tuple[Any, ...]], reports: Path) -> None:
    """The final table (stdout) and each row's report path."""
    from rich.console import Console
    from rich.table import Table

    from benchtrust.report.paths import report_folder

    if not rows:
        return
    t = Table("model", "benchmark", "n", "accuracy", "95% CI", "prompt spread", box=None, pad_edge=False)
    for m, b, n, acc, lo, hi, spread, _ in rows:
        ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "–"
        t.add_row(m, b, str(n), "–" if acc is None else f"{acc:.3f}", ci, "–" if spread is None else f"{spread:.3f}")
    Console(width=160, highlight=False).print(t)
    for m, b, *_, version in rows:
        print(f"report {m} × {b}: {report_folder(reports, m, b, version) / 'report.html'}")


def print_failures(failed: Iterable[Mapping[str, Any]], next_command: str, log_path: Path | None = None) -> None:
    """Failed and blocked runs, last and in red: what, partition, the reason, and what to do next."""
    failed = list(failed)
    if not failed:
        return
    for r in failed:
        label = f"{r['job']} {r['partition']}" if r.get("partition") else r["job"]
        state = "BLOCKED" if r["failed_checks"] else "FAILED"
        reason = "; ".join(r["failed_checks"]) or one_line(r.get("error") or r["status"])
        red(f"{state} {label}: {reason}" + (f" (run {r['run_id']})" if r.get("run_id") else ""))
    where = f"; workers' output: {log_path}" if log_path else ""
    red(f"next: fix the cause above, then `{next_command}` (cached cells are kept); details in `benchtrust ui`{where}")
