"""Supervision of one sandbox run on the host: reading stdout / stderr / the result channel under the deadline and
the output cap, killing what the run left in a safe order, and classifying the outcome into a status and reason."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from typing import Any

from benchtrust.sandbox._cgroups import Cgroups
from benchtrust.sandbox._procs import kill_pid, sweep_uid

SETUP_ERROR_EXIT = 125


def launcher_child(sup: dict[str, Any]) -> int | None:
    """Host pid of the sandbox's PID 1, from the launcher's first line (written before the child runs)."""
    first = bytes(sup["result"]).split(b"\n", 1)[0].decode("ascii", "replace")
    if first.startswith("@launcher child "):
        try:
            return int(first.split()[2])
        except (ValueError, IndexError):
            return None
    return None


def terminate(proc: subprocess.Popen, sup: dict[str, Any], cgroups: Cgroups | None, uid: int | None) -> None:
    """Kill everything the run left and reap the launcher.

    Order matters: the sandbox processes first (cgroup, then PID 1 of the namespace, checked to be
    the launcher's child), so that the launcher is still there to reap PID 1 and exits by itself;
    the launcher's process group only if it does not; a sweep of the run's uid last.
    """
    if cgroups:
        cgroups.kill_all()
    child = launcher_child(sup)
    if child is not None and not exited(proc):
        kill_pid(child, ppid=proc.pid)
    end = time.monotonic() + 1.0
    while not exited(proc) and time.monotonic() < end:
        time.sleep(0.005)
    kill_group(proc)  # not reaped yet: the group id is still ours
    proc.wait()
    if uid is not None:
        sweep_uid(uid)


def kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is not None:  # already reaped: its pid may belong to someone else now
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def exited(proc: subprocess.Popen) -> bool:
    """Has the launcher exited? Checked with WNOWAIT: the zombie keeps its pid (and group id) reserved."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def supervise(
    proc: subprocess.Popen, result_fd: int, deadline: float, max_output: int, tail_bytes: int
) -> dict[str, Any]:
    """Read stdout / stderr / the result channel until the run ends, the deadline or the output cap."""
    out: dict[str, Any] = {
        "stdout": bytearray(),
        "stderr": bytearray(),
        "result": bytearray(),
        "stdout_bytes": 0,
        "stderr_bytes": 0,
        "timed_out": False,
        "output_exceeded": False,
    }
    stdout, stderr = proc.stdout, proc.stderr
    if stdout is None or stderr is None:
        raise ValueError("the launcher must be started with stdout and stderr as pipes")
    sel = selectors.DefaultSelector()
    names = {stdout.fileno(): "stdout", stderr.fileno(): "stderr", result_fd: "result"}
    for fd in names:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(names)
    exit_seen: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                out["timed_out"] = not exited(proc)
                break
            if exit_seen is None and exited(proc):
                exit_seen = now
            if exit_seen is not None and (not open_fds or now - exit_seen > 0.5):
                break  # ended; pipes held by stray descendants are not waited on for long
            if not open_fds:
                time.sleep(min(0.02, deadline - now))
                continue
            for key, _ in sel.select(timeout=min(0.05, deadline - now)):
                fd = key.fd
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                name = names[fd]
                if name == "result":
                    if len(out["result"]) < 65536:
                        out["result"] += data[: 65536 - len(out["result"])]
                    continue
                out[name + "_bytes"] += len(data)
                buf = out[name]
                buf += data
                if len(buf) > tail_bytes:
                    del buf[: len(buf) - tail_bytes]
                if out["stdout_bytes"] + out["stderr_bytes"] > max_output:
                    out["output_exceeded"] = True
            if out["output_exceeded"]:
                break
    finally:
        sel.close()
        stdout.close()
        stderr.close()
        os.close(result_fd)
    return out


_SIGNAMES = {int(s): s.name for s in signal.Signals}


def classify(sup: dict[str, Any], rc: int, nonce: str, oom: int, timeout_s: float, max_output: int) -> tuple[str, str]:
    lines = sup["result"].decode("utf-8", "replace").splitlines()
    setup_errors = [ln[len("@launcher setup-error ") :] for ln in lines if ln.startswith("@launcher setup-error ")]
    ours = [ln[len(nonce) + 1 :] for ln in lines if ln.startswith(nonce + " ")]
    kind, _, detail = (ours[-1] if ours else "").partition(" ")
    if sup["timed_out"]:
        return "timeout", f"timeout after {timeout_s:g}s (wall clock; process tree killed)"
    if sup["output_exceeded"]:
        return "killed", f"output limit exceeded: more than {max_output} bytes on stdout+stderr"
    if setup_errors and not ours:
        return "error", "sandbox setup failed: " + setup_errors[-1][:300]
    if kind == "blocked":
        return "blocked", detail[:300]
    if oom and kind != "ok":
        return "memory", f"memory limit: the cgroup OOM killer fired ({oom} kill(s))"
    if kind == "ok" and rc == 0:
        return "passed", "passed"
    if kind == "exc":
        name = detail.split(":", 1)[0]
        return ("memory" if name == "MemoryError" else "failed"), detail[:300]
    if kind == "exit":
        return "failed", f"SystemExit({detail[:100]}) before the program finished"
    if rc < 0 or rc > 128:
        sig = -rc if rc < 0 else rc - 128
        signame = _SIGNAMES.get(sig, f"signal {sig}")
        if sig == signal.SIGXCPU:
            return "timeout", "CPU time limit exceeded (SIGXCPU)"
        if sig == signal.SIGXFSZ:
            return "killed", "file size limit exceeded (SIGXFSZ)"
        if sig == signal.SIGKILL and kind == "":
            return "killed", "killed by SIGKILL"
        return "killed", f"killed by {signame}"
    if rc == SETUP_ERROR_EXIT and setup_errors:
        return "error", "sandbox setup failed: " + setup_errors[-1][:300]
    if kind == "ok":
        return "failed", f"exit code {rc} after the program finished"
    return "failed", f"exited with code {rc} before the program finished"
