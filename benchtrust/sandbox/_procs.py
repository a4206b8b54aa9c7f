"""Processes and uids of sandbox runs, seen from the host: per-run uids (issued at random from a range no real
account uses), pidfd kills that cannot hit a reused pid, and sweeps of everything a run's uid left behind."""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable

UID_BASE = 2_000_000_000  # per-run uids are UID_BASE + n: no real account, no shared RLIMIT_NPROC count
UID_SPAN = 1 << 30  # drawn at random: two concurrent runs (of any process) practically never share one

_issued_lock = threading.Lock()
_issued_uids: set[int] = set()


def kill_pid(pid: int, uid: int | None = None, ppid: int | None = None) -> None:
    """SIGKILL ``pid`` through a pidfd (no pid-reuse race), only if it still has ``uid`` / parent ``ppid``."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return
    try:
        if uid is not None and proc_field(pid, "Uid") != uid:
            return
        if ppid is not None and proc_field(pid, "PPid") != ppid:
            return
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def proc_field(pid: int, key: str) -> int | None:
    try:
        return int(proc_status(pid)[key].split()[0])
    except (KeyError, ValueError, IndexError):
        return None


def pids_of_uid(pred: Callable[[int], bool]) -> list[int]:
    """Live (non-zombie) processes whose real uid satisfies ``pred``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_status(int(name))
            try:
                uid = int(st["Uid"].split()[0])
            except (KeyError, ValueError, IndexError):
                continue
            if pred(uid) and not st.get("State", "").startswith(("Z", "X")):
                out.append(int(name))
    return out


def issued_uids() -> frozenset[int]:
    """The per-run uids this process has given out so far."""
    with _issued_lock:
        return frozenset(_issued_uids)


def leftover_processes(all_runs: bool = False) -> list[int]:
    """Host pids still alive under the uid of a sandbox run (should always be empty between runs).

    By default only the uids this process gave out are considered (other processes may be running
    sandboxes of their own at the same time); ``all_runs=True`` looks at the whole sandbox uid range.
    Under ``userns`` isolation the sandbox runs under the host user's own uid, which this cannot see.
    """
    if all_runs:
        return pids_of_uid(lambda u: UID_BASE <= u < UID_BASE + UID_SPAN)
    with _issued_lock:
        issued = set(_issued_uids)
    return pids_of_uid(issued.__contains__) if issued else []


def sweep_uid(uid: int, wait_s: float = 10.0) -> None:
    """Kill every process of ``uid`` and wait (bounded) until none is left, dying ones included."""
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        pids = pids_of_uid(lambda u: u == uid)
        if not pids:
            return
        for pid in pids:
            kill_pid(pid, uid)
        time.sleep(0.01)


def alloc_uid() -> int:
    with _issued_lock:
        while True:
            uid = UID_BASE + secrets.randbelow(UID_SPAN)
            if uid not in _issued_uids:
                _issued_uids.add(uid)
                return uid


def own_task_count() -> int:
    uid, n = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as f:
                    txt = f.read()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in txt.splitlines() if ":" in line)
            try:
                if int(fields.get("Uid", "-1").split()[0]) == uid:
                    n += int(fields.get("Threads", "1").strip())
            except ValueError:
                pass
    return n
