"""The embedded default's run launcher: run workers forked from a warm process instead of started cold.

Dagster's default launcher asks the code server to start each run, and the code server starts a fresh Python
(``multiprocessing`` spawn) that imports Dagster and the code location again (3.5 s of CPU for benchtrust) and
then the step's libraries (great-expectations 3 s; torch for inference). A 6-item ``benchtrust run`` starts three
such workers: about a third of its CPU went to imports, measured with py-spy, and it is the same for every run of a
refresh, a sensor or the UI.

:class:`WarmRunLauncher` keeps one *warm* process per launching process (``python -m pipelines.launcher``): it
imports the code location and the step libraries once, starts no thread, and forks one child per run, which
executes the run exactly as ``dagster api execute_run`` does (:func:`dagster._cli.api._execute_run_command_body`:
same events, same pid in the "Started process for run" event that run monitoring and
:func:`pipelines.run.recover_interrupted` read). The fork is the same technique as Python's ``forkserver`` and
gunicorn's ``preload``; what is hand-written here is only the small protocol around it, because Dagster's code
server hard-wires ``spawn``.

It falls back to Dagster's :class:`~dagster.DefaultRunLauncher` (the code server) for anything it was not built
for: another code location or interpreter, a warm process that died or refuses (a thread appeared in it), or
source files or the dbt manifest changed since the warm process loaded them (it is restarted for the next run).
Production instances (``deploy/``) name their own launcher; this one is written only into the embedded default
``dagster.yaml`` (:mod:`pipelines.instance`).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import IO, Any, Self

from dagster import DefaultRunLauncher
from dagster._core.launcher.base import LaunchRunContext
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value

from benchtrust.settings import PROJECT_ROOT

CODE_MODULE = "pipelines.definitions"
# imported once in the warm process: what the items, predictions and contracts steps import first thing
PRELOAD = ("great_expectations", "data_contracts.runner")
WORKER_PID_TAG = "benchtrust/worker_pid"
_SOURCES = ("benchtrust", "assets", "sensors", "pipelines", "data_contracts", "config")
_MANIFEST = PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"


def _source_stamp() -> float:
    """The newest change among the files the warm process loaded (the code, the config, the dbt manifest)."""
    newest = 0.0
    for top in _SOURCES:
        for dirpath, dirnames, filenames in os.walk(PROJECT_ROOT / top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if f.endswith((".py", ".yaml", ".yml", ".sql")):
                    try:
                        newest = max(newest, os.stat(os.path.join(dirpath, f)).st_mtime)
                    except OSError:
                        continue
    try:
        newest = max(newest, _MANIFEST.stat().st_mtime)
    except OSError:
        pass
    return newest


class _Warm:
    """One warm process and the pipes to it."""

    def __init__(self) -> None:
        self.stamp = _source_stamp()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.launcher"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready: dict[str, Any] | None = None

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the warm process exited ({self.proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def fork(self, run_id: str, instance_ref: str) -> int:
        if self.ready is None:
            self.ready = self._reply()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"run_id": run_id, "instance_ref": instance_ref}) + "\n")
        self.proc.stdin.flush()
        reply = self._reply()
        if "pid" not in reply:
            raise RuntimeError(reply.get("error", "no pid"))
        return int(reply["pid"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.stdin is not None and self.alive():
            try:
                self.proc.stdin.close()  # the warm process exits at end of input; its children run on
            except OSError:
                pass


class WarmRunLauncher(DefaultRunLauncher):
    """Launches benchtrust's runs in children of a warm process; everything else as the default launcher does."""

    def __init__(self, inst_data: ConfigurableClassData | None = None):
        super().__init__(inst_data=inst_data)
        self._warm: _Warm | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data)

    def prestart(self) -> None:
        """Start the warm process now, so its imports overlap the caller's own start-up."""
        with self._lock:
            self._current()

    def _current(self) -> _Warm:
        if self._warm is None or not self._warm.alive() or _source_stamp() > self._warm.stamp:
            if self._warm is not None:
                self._warm.close()
            self._warm = _Warm()
        return self._warm

    @staticmethod
    def _ours(context: LaunchRunContext) -> bool:
        origin = context.dagster_run.job_code_origin
        if origin is None:
            return False
        pointer = origin.repository_origin.code_pointer
        return getattr(pointer, "module", None) == CODE_MODULE and os.path.realpath(
            origin.repository_origin.executable_path
        ) == os.path.realpath(sys.executable)

    def launch_run(self, context: LaunchRunContext) -> None:
        if not self._ours(context):
            super().launch_run(context)
            return
        run = context.dagster_run
        try:
            with self._lock:
                pid = self._current().fork(run.run_id, serialize_value(self._instance.get_ref()))
        except Exception as exc:  # a dead or refusing warm process: the code server starts this run
            with self._lock:
                if self._warm is not None:
                    self._warm.close()
                self._warm = None
            self._instance.report_engine_event(
                f"warm run launcher unavailable ({exc}); starting the run from the code server", run
            )
            super().launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {WORKER_PID_TAG: str(pid)})

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        pid = run.tags.get(WORKER_PID_TAG) if run else None
        if run is None or pid is None:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(pid), signal.SIGINT)  # the worker turns it into Dagster's interrupt: the run ends CANCELED
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            if self._warm is not None:
                self._warm.close()
                self._warm = None
        super().dispose()


def _child(request: Mapping[str, Any]) -> None:
    """In the forked child: execute the run as ``dagster api execute_run`` does, then exit without returning."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # steps wait for their own children (dbt)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # the warm process's stdout is its reply pipe
        sys.stdin = open(os.devnull)  # noqa: SIM115  (the process ends with os._exit)
        from dagster._cli.api import _execute_run_command_body
        from dagster._core.instance import DagsterInstance, InstanceRef
        from dagster._utils.interrupts import capture_interrupts

        with capture_interrupts():
            instance = DagsterInstance.from_ref(deserialize_value(request["instance_ref"], InstanceRef))
            try:
                code = _execute_run_command_body(
                    request["run_id"], instance, lambda _event: None, set_exit_code_on_failure=False
                )
            finally:
                instance.dispose()
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(requests: IO[str], replies: IO[str]) -> None:
    """The warm process: load the code location and the step libraries, then fork one child per request."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    importlib.import_module(CODE_MODULE)
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children; nobody waits for them here

    def reply(obj: Mapping[str, Any]) -> None:
        replies.write(json.dumps(obj) + "\n")
        replies.flush()

    reply({"ready": True, "pid": os.getpid()})
    for line in requests:
        request = json.loads(line)
        if threading.active_count() > 1:  # forking a process with threads can deadlock the child: refuse
            reply({"error": f"{threading.active_count()} threads in the warm process"})
            continue
        pid = os.fork()
        if pid == 0:
            _child(request)
        reply({"pid": pid})


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
