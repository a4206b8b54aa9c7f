"""The queue and backfill daemons ``benchtrust run`` / ``import`` need, when no Dagster daemon is running.

Submitted work is a Dagster backfill on the instance; Dagster's own daemons turn it into runs (the backfill
daemon), take queued runs off the queue within the pool and run limits (the run-queue daemon), retry failed
runs (the event-log consumer) and notice dead run workers (run monitoring). When a daemon is already
running for this instance — ``benchtrust ui`` / ``dagster dev``, or ``dagster-daemon run`` on a server —
the CLI only submits and follows. Otherwise it hosts those daemons itself while it follows its work, so the
embedded default needs no server.

Sensors and schedules are left to a long-running daemon: a command that submits one piece of work should
not start the instance's sensors as a side effect.

One Dagster internal is used here on purpose: the backfill daemon's loop is hard-wired to 30 s between
iterations (``dagster._daemon.backfill``), which for a profile of three layers (items → predictions →
warehouse) adds well over a minute of idle waiting to every command-line run. :class:`FollowingBackfillDaemon`
runs the same iteration function (:func:`execute_backfill_iteration`), but only when something it acts on changed:
a backfill was requested or ended, a run was created or ended (two SQL counts every ``BACKFILL_POLL_S``), and at
least every ``BACKFILL_IDLE_S`` seconds regardless. An asset-backfill iteration reads the asset records of every
asset in the backfill; run every 2 s it was the command's largest CPU cost (11% of a whole cached `benchtrust run`,
measured with py-spy), with most iterations finding nothing to do.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.controller import create_daemon_of_type, daemon_controller_from_instance
from dagster._daemon.daemon import BackfillDaemon, DagsterDaemon, SpanMarker

from benchtrust.settings import PROJECT_ROOT

BACKFILL_POLL_S = 0.5
BACKFILL_IDLE_S = 10.0
# iterations run after the one a change triggered: an asset backfill takes one iteration to record a finished
# run's partitions and the next to mark itself complete, and nothing countable changes in between; without them the
# next backfill of a command (the warehouse after the profile's partitions) waited the full idle interval (10 s)
BACKFILL_SETTLE_ITERATIONS = 2
HEARTBEAT_FRESH_S = 60.0
# what the command line hosts; sensors, schedules, automation and freshness stay with a long-running daemon
HOSTED_DAEMONS = ("QUEUED_RUN_COORDINATOR", "BACKFILL", "EVENT_LOG_CONSUMER", "MONITORING")


def _backfill_state(instance: dg.DagsterInstance) -> tuple[int, int]:
    """What a backfill iteration acts on, cheaply: open backfills and runs that ended (two SQL counts)."""
    open_backfills = BulkActionsFilter(
        statuses=[BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING]
    )
    ended = RunsFilter(statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED])
    return instance.get_backfills_count(open_backfills), instance.get_runs_count(ended)


class FollowingBackfillDaemon(BackfillDaemon):
    """Dagster's backfill daemon, iterating as soon as its inputs change (see the module docstring)."""

    def core_loop(self, workspace_process_context, shutdown_event):  # type: ignore[override]
        futures: dict = {}  # backfills being evaluated in the thread pool, by id (as Dagster's loop keeps them)
        instance = workspace_process_context.instance
        seen: tuple[int, int] | None = None
        dirty, last, settle = True, 0.0, 0
        while not shutdown_event.is_set():
            try:
                state = _backfill_state(instance)
            except Exception:  # storage busy: treat as a change
                state, dirty = None, True
            if state != seen:
                seen, dirty, settle = state, True, BACKFILL_SETTLE_ITERATIONS
            # an evaluation still running in the pool would make Dagster skip its backfill: wait for it to end
            in_flight = any(not f.done() for f in futures.values())
            if (not in_flight and (dirty or settle)) or time.time() - last >= BACKFILL_IDLE_S:
                if not dirty and settle:
                    settle -= 1
                dirty, last = False, time.time()
                yield SpanMarker.START_SPAN
                try:
                    yield from execute_backfill_iteration(
                        workspace_process_context,
                        self._logger,
                        threadpool_executor=self._threadpool_executor,
                        backfill_futures=futures,
                        submit_threadpool_executor=self._submit_threadpool_executor,
                    )
                except Exception:  # the daemon framework records it; the next iteration tries again
                    self._logger.exception("backfill iteration failed")
                yield SpanMarker.END_SPAN
            shutdown_event.wait(BACKFILL_POLL_S)
            yield None


HOSTED_RECORD = "benchtrust-hosted-daemons.json"


def _hosted_record(instance: dg.DagsterInstance) -> Path | None:
    root = instance.root_directory if instance.is_persistent else None
    return Path(root) / HOSTED_RECORD if root else None


def _process_alive(pid: int, started: float) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _live_and_dead_hosts(instance: dg.DagsterInstance) -> tuple[list[dict[str, Any]], set[str]]:
    """The recorded hosts whose process still runs, and the daemon ids of those that are gone. A command killed with
    SIGKILL cannot wipe its heartbeats; for up to a minute they look like a running daemon, the next command would
    not host its own, and no daemon would process its backfill (found by tests/integration/test_fault_injection.py)."""
    path = _hosted_record(instance)
    try:
        hosts = json.loads(path.read_text()) if path else []
    except (OSError, ValueError):
        hosts = []
    live: list[dict[str, Any]] = []
    dead: set[str] = set()
    for h in hosts if isinstance(hosts, list) else []:
        if not isinstance(h, dict) or "daemon_id" not in h:
            continue
        if _process_alive(int(h.get("pid", -1)), float(h.get("started", 0))):
            live.append(h)
        else:
            dead.add(h["daemon_id"])
    return live, dead


def _record_host(instance: dg.DagsterInstance, daemon_id: str | None) -> None:
    """Add this process's daemons to the record, dropping the hosts that are gone."""
    import psutil

    path = _hosted_record(instance)
    if path is None or daemon_id is None:
        return
    me = psutil.Process()
    live, _ = _live_and_dead_hosts(instance)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps([*live, {"daemon_id": daemon_id, "pid": me.pid, "started": me.create_time()}]))
    os.replace(tmp, path)


def external_daemon_running(instance: dg.DagsterInstance) -> bool:
    """A daemon (``dagster dev`` / ``dagster-daemon run``, or another command hosting them) is heart-beating for
    this instance's queue. Heartbeats left by a benchtrust command that was killed do not count."""
    try:
        beats = instance.get_daemon_heartbeats()
    except Exception:
        return False
    now = time.time()
    needed = [t for t in ("QUEUED_RUN_COORDINATOR", "BACKFILL") if t in instance.get_required_daemon_types()]
    fresh = {t: b for t, b in beats.items() if now - b.timestamp < HEARTBEAT_FRESH_S}
    dead = _live_and_dead_hosts(instance)[1] if fresh else set()
    if dead and any(b.daemon_id in dead for b in fresh.values()):
        instance.wipe_daemon_heartbeats()  # a killed command's: nobody is processing the queue
        fresh = {t: b for t, b in fresh.items() if b.daemon_id not in dead}
    return bool(needed) and all(t in fresh for t in needed)


def daemon_alive(instance: dg.DagsterInstance, within_s: float = 90.0) -> bool:
    """Some daemon (hosted or external) has processed backfills within ``within_s`` seconds."""
    beat = instance.get_daemon_heartbeats().get("BACKFILL")
    return beat is not None and time.time() - beat.timestamp < within_s


def _hosted(instance: dg.DagsterInstance) -> list[DagsterDaemon]:
    out: list[DagsterDaemon] = []
    for t in instance.get_required_daemon_types():
        if t not in HOSTED_DAEMONS:
            continue
        out.append(
            FollowingBackfillDaemon(settings=instance.get_backfill_settings())
            if t == "BACKFILL"
            else create_daemon_of_type(t, instance)
        )
    return out


@contextmanager
def _output_to(log_path: Path | None) -> Iterator[None]:
    """While entered, this process's stdout/stderr file descriptors point at ``log_path``: child processes started
    meanwhile (the code server, and so every run worker it launches) inherit the log file instead of the console.
    Dagster tees a step's output (dbt's progress lines, tracebacks) to the worker's stdout; it belongs in the log."""
    if log_path is None:
        yield
        return
    import sys

    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


@contextmanager
def hosted_daemons(instance: dg.DagsterInstance, log_path: Path | None = None) -> Iterator[bool]:
    """Host the run-queue and backfill daemons for the duration, unless another daemon already runs them.
    Yields whether this process hosts them. With ``log_path``, the code server and the run workers write their
    console output there (``-v`` leaves it on the console)."""
    if external_daemon_running(instance):
        yield False
        return
    target = WorkspaceFileTarget(paths=[str(PROJECT_ROOT / "workspace.yaml")])
    try:
        with ExitStack() as stack:
            with _output_to(log_path):  # the code server starts here, with the log file as its console
                controller = stack.enter_context(
                    daemon_controller_from_instance(
                        instance, target, gen_daemons=_hosted, log_level="error", code_server_log_level="error"
                    )
                )
                # and the warm run-worker process (pipelines/launcher.py), whose imports overlap the submission
                prestart = getattr(instance.run_launcher, "prestart", None)
                if prestart is not None:
                    prestart()
            # Dagster's controller id for our daemons' heartbeats (a private attribute: no public accessor)
            _record_host(instance, getattr(controller, "_daemon_uuid", None))
            if log_path is not None:
                # the controller sets the "dagster" logger to ERROR, but anything that later lowers it (or a
                # logging.info() call that installs a root handler) let every backfill tick's INFO/DEBUG lines onto
                # the console (seen in the fault-injection runs); the daemons' own logger keeps ERROR explicitly
                logging.getLogger("dagster.daemon").setLevel(logging.ERROR)
            yield True
    finally:
        # our heartbeats would make the next command believe a daemon is still running for up to a minute
        instance.wipe_daemon_heartbeats()


class BusyError(RuntimeError):
    """Another benchtrust command holds this data folder."""


@contextmanager
def command_lock(home: Path, command: str, wait: bool = True, on_wait=None) -> Iterator[None]:
    """One submitting command per data folder at a time (``benchtrust run`` / ``import`` / ``eval``).

    An advisory ``flock``: the kernel releases it when the holder exits, however it exits, so a killed command
    never leaves a stale lock. The holder's pid, command and start time sit beside it so the waiting command
    can name it. ``wait=False`` refuses instead of waiting.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / ".benchtrust.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise BusyError(f"{home} is in use by {holder}; try again when it has finished") from None
            if on_wait:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(
            fd,
            json.dumps(
                {"pid": os.getpid(), "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
            ).encode(),
        )
        yield
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        info: dict[str, Any] = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another benchtrust command"
    return f"`benchtrust {info.get('command')}` (pid {info.get('pid')}, started {info.get('started')})"
