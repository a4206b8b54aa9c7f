"""Host side of the sandbox: set-up, supervision, clean-up and the verdict of one program.

Each program runs in a fresh interpreter started by the trusted launcher (``_launcher.py``), under
the strongest isolation this machine allows. The isolation *mode* is chosen once per host process by
probing (:func:`isolation_status`), strongest first:

``privileged`` (the host runs as root)
    network, mount, PID, IPC, UTS and cgroup namespaces; a minimal read-only root file system
    (``pivot_root``, host tree detached); a per-run unprivileged uid; per-run pids + memory cgroups.
``userns`` (unprivileged host, user namespaces allowed)
    the same namespaces and root file system inside a user namespace, under the host user's own uid;
    no cgroups. Refused as root (root could only map uid 0 in, keeping DAC override on host files).
``minimal``
    only a fresh process group, rlimits, a minimal environment and the audit hook (plus a uid drop
    when root, if the interpreter is executable by other users). Weak: the file system and network
    are those of the host user. Refused when ``strict=True``.

A layer that the chosen mode includes but that fails at run time makes the run fail closed: status
``error``, reason ``sandbox setup failed: ...``; the program is never run half-isolated.

What each layer protects against:

=====================  ==========================================================================
fresh interpreter      ``python -I -S -B``: no user site, no ``PYTHON*`` variables, no cwd on sys.path,
                       nothing of the host process (imports, open files, threads) is shared
minimal environment    the child sees only PATH/HOME/TMPDIR/LANG: no secrets from the host environment
process tree kill      wall-clock limit: the cgroup, PID 1 of the namespace, the launcher's process
                       group and finally the run's uid are SIGKILLed (pidfds: no pid-reuse race); in
                       a PID namespace the kernel kills every process once PID 1 dies, even those that
                       called ``setsid()``; PDEATHSIG ties the run to the host process's life
rlimits                RLIMIT_AS (memory → MemoryError), CPU, FSIZE, NOFILE, NPROC, CORE=0
unique unprivileged    no write/delete permission on host files, RLIMIT_NPROC counts only this run
uid                    (root ignores RLIMIT_NPROC: the drop is what makes it bite), cannot signal
                       other runs; capability bounding set emptied and ``no_new_privs`` set
network namespace      only a downed loopback: no connection leaves the sandbox, not even to the
                       host's 127.0.0.1 or its abstract unix sockets
mount namespace +      the program sees /usr, /lib*, the interpreter prefix (all read-only, nosuid),
pivot_root             a private /dev, its own /proc and a size-capped tmpfs at /sandbox (cwd, HOME,
                       TMPDIR) that vanishes with it; /tmp, /home, /root, /work... do not exist
cgroups (pids,         a fork bomb stops at ``max_procs`` processes in total; memory across *all*
memory)                processes of the run (and its tmpfs) is capped, OOM kills are reported
audit hook             defence in depth, not a boundary: stops network, spawning, ctypes and writes
                       outside /sandbox early with a precise reason (status ``blocked``)
bounded capture        at most ``max_output_bytes`` of stdout+stderr are read, then the run is killed;
                       only tails are kept
=====================  ==========================================================================
"""

from __future__ import annotations

import json
import math
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "STATUSES",
    "UID_BASE",
    "ExecResult",
    "SandboxUnavailable",
    "isolation_status",
    "issued_uids",
    "leftover_processes",
    "run_program",
]

STATUSES = ("passed", "failed", "timeout", "memory", "killed", "error", "blocked")
UID_BASE = 2_000_000_000  # per-run uids are UID_BASE + n: no real account, no shared RLIMIT_NPROC count
_UID_SPAN = 1 << 30  # drawn at random: two concurrent runs (of any process) practically never share one
_HERE = Path(__file__).resolve().parent
_LAUNCHER = _HERE / "_launcher.py"
_BOOTSTRAP = _HERE / "_bootstrap.py"
_SETUP_ERROR_EXIT = 125
_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(RuntimeError):
    """No isolation mode that satisfies the request works on this machine."""


@dataclass
class ExecResult:
    """Outcome of one sandboxed program.

    ``status`` is one of :data:`STATUSES`; ``passed`` is true only for ``passed`` (the program ran to
    its end, nothing escaped and the interpreter exited with 0).
    """

    passed: bool
    status: str
    reason: str
    duration_s: float
    returncode: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    layers: tuple[str, ...] = ()
    mode: str = ""
    uid: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = ",".join(self.layers)
        meta = d.pop("meta")
        return {**meta, **d}


# ---------------------------------------------------------------------------------------------
# cgroups

class _Cgroups:
    """Per-run pids + memory cgroups (v1 or v2), created by the host, joined by the launcher."""

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, name: str, max_tasks: int, memory_bytes: int):
        self.dirs: list[Path] = []
        self.kind = ""
        self.memory_dir: Path | None = None
        self.layers: list[str] = []
        root = self.ROOT
        try:
            if (root / "pids" / "cgroup.procs").exists() or (root / "memory" / "cgroup.procs").exists():
                self.kind = "v1"
                if (root / "pids" / "cgroup.procs").exists():
                    pids = self._mk(root / "pids" / "benchtrust-sandbox" / name)
                    (pids / "pids.max").write_text(str(max_tasks))
                    self.layers.append("cgroup-pids")
                if (root / "memory" / "cgroup.procs").exists():
                    mem = self._mk(root / "memory" / "benchtrust-sandbox" / name)
                    (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    if (mem / "memory.memsw.limit_in_bytes").exists():
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                    self.memory_dir = mem
                    self.layers.append("cgroup-memory")
            elif (root / "cgroup.controllers").exists():
                self.kind = "v2"
                parent = root / "benchtrust-sandbox"
                wanted = [c for c in ("pids", "memory") if c in (root / "cgroup.controllers").read_text().split()]
                for ctl in wanted:
                    try:
                        (root / "cgroup.subtree_control").write_text(f"+{ctl}")
                    except OSError:
                        pass
                parent.mkdir(exist_ok=True)
                for ctl in wanted:
                    try:
                        (parent / "cgroup.subtree_control").write_text(f"+{ctl}")
                    except OSError:
                        pass
                d = self._mk(parent / name)
                if (d / "pids.max").exists():
                    (d / "pids.max").write_text(str(max_tasks))
                    self.layers.append("cgroup-pids")
                if (d / "memory.max").exists():
                    (d / "memory.max").write_text(str(memory_bytes))
                    if (d / "memory.swap.max").exists():
                        (d / "memory.swap.max").write_text("0")
                    self.memory_dir = d
                    self.layers.append("cgroup-memory")
        except OSError:
            self.remove()
            self.dirs, self.layers, self.memory_dir = [], [], None

    def _mk(self, d: Path) -> Path:
        d.mkdir(parents=True, exist_ok=True)
        self.dirs.append(d)
        return d

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_kills(self) -> int:
        if self.memory_dir is None:
            return 0
        for fname in ("memory.oom_control", "memory.events"):
            p = self.memory_dir / fname
            try:
                for line in p.read_text().splitlines():
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
            except (OSError, ValueError):
                continue
        return 0

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            try:
                out.update(int(x) for x in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return out

    def kill_all(self) -> None:
        for d in self.dirs:
            if (d / "cgroup.kill").exists():
                try:
                    (d / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                _kill_pid(pid)
            time.sleep(0.01)

    def remove(self) -> None:
        for d in reversed(self.dirs):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.01)


def _kill_pid(pid: int, uid: int | None = None, ppid: int | None = None) -> None:
    """SIGKILL ``pid`` through a pidfd (no pid-reuse race), only if it still has ``uid`` / parent ``ppid``."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return
    try:
        if uid is not None and _proc_field(pid, "Uid") != uid:
            return
        if ppid is not None and _proc_field(pid, "PPid") != ppid:
            return
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _proc_field(pid: int, key: str) -> int | None:
    try:
        return int(_proc_status(pid)[key].split()[0])
    except (KeyError, ValueError, IndexError):
        return None


def _pids_of_uid(pred) -> list[int]:
    """Live (non-zombie) processes whose real uid satisfies ``pred``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_status(int(name))
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
        return _pids_of_uid(lambda u: UID_BASE <= u < UID_BASE + _UID_SPAN)
    with _issued_lock:
        issued = set(_issued_uids)
    return _pids_of_uid(issued.__contains__) if issued else []


def _sweep_uid(uid: int, wait_s: float = 10.0) -> None:
    """Kill every process of ``uid`` and wait (bounded) until none is left, dying ones included."""
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        pids = _pids_of_uid(lambda u: u == uid)
        if not pids:
            return
        for pid in pids:
            _kill_pid(pid, uid)
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# isolation modes

_MODES = {
    "privileged": dict(netns=True, mountns=True, pidns=True, ipcns=True, utsns=True, cgroupns=True,
                       drop=True, cgroups=True),
    "userns": dict(netns=True, mountns=True, pidns=True, ipcns=True, utsns=True, cgroupns=False,
                   drop=False, cgroups=False),
    "minimal": dict(netns=False, mountns=False, pidns=False, ipcns=False, utsns=False, cgroupns=False,
                    drop=None, cgroups=False),  # drop=None: when root
}
_STRICT_MODES = ("privileged", "userns")

_status_lock = threading.Lock()
_status: dict[str, Any] | None = None


def _candidate_modes() -> list[str]:
    return ["privileged", "minimal"] if os.geteuid() == 0 else ["userns", "minimal"]


def isolation_status(refresh: bool = False) -> dict[str, Any]:
    """Probe the isolation modes once per process (strongest first) and return what works.

    Returns ``{"mode": best working mode or None, "layers": [...], "tried": {mode: "ok" | error}}``.
    """
    global _status
    with _status_lock:
        if _status is not None and not refresh:
            return _status
        tried: dict[str, str] = {}
        best, layers = None, []
        for mode in _candidate_modes():
            try:
                r = _run(_PROBE_PROGRAM, mode=mode, timeout_s=20.0, memory_mb=256, audit_hook=True)
            except SandboxUnavailable as e:
                tried[mode] = str(e)
                continue
            if r.status == "passed" and "probe-ok" in r.stdout_tail:
                tried[mode] = "ok"
                best, layers = mode, list(r.layers)
                break
            tried[mode] = f"{r.status}: {r.reason} {r.stderr_tail[-300:]}".strip()
        _status = {"mode": best, "layers": layers, "tried": tried, "euid": os.geteuid(),
                   "python": _interpreter()[0]}
        return _status


_PROBE_PROGRAM = "import os, sys\nprint('probe-ok', os.getuid(), os.getcwd())\n"


def _interpreter() -> tuple[str, list[str]]:
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    prefixes = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix),
                       os.path.dirname(os.path.dirname(exe))})
    return exe, prefixes


def _world_executable(path: str) -> bool:
    """Can an unrelated unprivileged user execute ``path`` (every directory o+x, the file o+x)?"""
    p = Path(path)
    try:
        for d in list(p.parents)[::-1]:
            if not os.stat(d).st_mode & 0o001:
                return False
        return bool(os.stat(p).st_mode & 0o005 == 0o005)
    except OSError:
        return False


_issued_lock = threading.Lock()
_issued_uids: set[int] = set()


def _alloc_uid() -> int:
    with _issued_lock:
        while True:
            uid = UID_BASE + secrets.randbelow(_UID_SPAN)
            if uid not in _issued_uids:
                _issued_uids.add(uid)
                return uid


def _own_task_count() -> int:
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


# ---------------------------------------------------------------------------------------------
# running one program

def run_program(
    code: str,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
    *,
    max_procs: int = 32,
    max_output_bytes: int = 1 << 20,
    tail_bytes: int = 4096,
    workdir_mb: int = 64,
    max_open_files: int = 64,
    cpu_s: float | None = None,
    audit_hook: bool = True,
    strict: bool = False,
    mode: str | None = None,
    env: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    candidate: str | None = None,
    entry_point: str | None = None,
) -> ExecResult:
    """Run the Python source ``code`` in a sandbox and classify the outcome.

    Args:
        code: the program (run as ``__main__``; "passed" means it ran to its end without an exception).
        timeout_s: wall-clock limit; the whole run is killed when it is reached (status ``timeout``).
        memory_mb: RLIMIT_AS of each process (a bigger allocation raises MemoryError → ``memory``); the
            memory cgroup caps all processes of the run together at ``memory_mb + workdir_mb + 64``.
        max_procs: processes + threads of the run (pids cgroup and RLIMIT_NPROC).
        max_output_bytes: stdout + stderr read at most; beyond, the run is killed (status ``killed``).
        tail_bytes: how much of the end of stdout / stderr is kept in the result.
        workdir_mb: size of the writable tmpfs (and RLIMIT_FSIZE).
        max_open_files: RLIMIT_NOFILE.
        cpu_s: RLIMIT_CPU (default ``ceil(timeout_s) + 1``).
        audit_hook: install the in-interpreter audit hook (defence in depth; the kernel layers hold
            without it, which the tests check).
        strict: refuse (SandboxUnavailable) unless a namespace mode (network + file system isolation) works.
        mode: force an isolation mode (``privileged``, ``userns``, ``minimal``) instead of the probed best.
        env: extra environment variables for the program (nothing of the host environment is passed).
        meta: copied into the result (e.g. task id and sample number).
        candidate: grade in the split form: ``code`` is the harness (the tests, calling
            ``__bt_candidate__``) and ``candidate`` the untrusted program, run in a second process that
            never sees the verdict channel; each call of ``entry_point`` crosses a pipe as plain data
            (see ``_bootstrap.py``).
        entry_point: the candidate's function the harness calls (with ``candidate``).
    """
    if (candidate is None) != (entry_point is None):
        raise ValueError("give candidate and entry_point together")
    if mode is None:
        st = isolation_status()
        mode = st["mode"]
        if mode is None:
            raise SandboxUnavailable(f"no isolation mode works here: {st['tried']}")
    if strict and mode not in _STRICT_MODES:
        raise SandboxUnavailable(f"strict sandbox requested but only {mode!r} isolation is available")
    return _run(code, mode=mode, timeout_s=timeout_s, memory_mb=memory_mb, max_procs=max_procs,
                max_output_bytes=max_output_bytes, tail_bytes=tail_bytes, workdir_mb=workdir_mb,
                max_open_files=max_open_files, cpu_s=cpu_s, audit_hook=audit_hook, env=env, meta=meta,
                candidate=candidate, entry_point=entry_point)


def _run(code: str, *, mode: str, timeout_s: float, memory_mb: int, max_procs: int = 32,
         max_output_bytes: int = 1 << 20, tail_bytes: int = 4096, workdir_mb: int = 64,
         max_open_files: int = 64, cpu_s: float | None = None, audit_hook: bool = True,
         env: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
         candidate: str | None = None, entry_point: str | None = None) -> ExecResult:
    if mode not in _MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}")
    spec = dict(_MODES[mode])
    root = os.geteuid() == 0
    if spec["drop"] is None:  # minimal mode: a per-run uid when we may change uids (root)
        spec["drop"] = root
    if spec["drop"] and not root:
        raise SandboxUnavailable("mode 'privileged' needs root")
    if mode == "userns" and root:
        # root could only map uid 0 into the namespace, which keeps DAC override on root-owned host
        # files; as root the 'privileged' mode (a real unprivileged uid) is the one to use
        raise SandboxUnavailable("mode 'userns' is for unprivileged hosts (as root it would map uid 0)")
    exe, prefixes = _interpreter()
    if spec["drop"] and not spec["mountns"] and not _world_executable(exe):
        raise SandboxUnavailable(f"{exe} is not executable by an unprivileged uid and there is no mount namespace")

    uid = _alloc_uid() if spec["drop"] else os.getuid()
    gid = uid if spec["drop"] else os.getgid()
    t0 = time.monotonic()
    control = Path(tempfile.mkdtemp(prefix="benchtrust-sbx-"))
    cgroups: _Cgroups | None = None
    proc: subprocess.Popen | None = None
    fds: list[int] = []
    try:
        os.chmod(control, 0o711)
        (control / "program.py").write_text(code, encoding="utf-8")
        shutil.copyfile(_BOOTSTRAP, control / "bootstrap.py")
        files = ["program.py", "bootstrap.py"]
        if candidate is not None:
            (control / "candidate.py").write_text(candidate, encoding="utf-8")
            files.append("candidate.py")
        for f in files:
            os.chmod(control / f, 0o444)
        host_workdir = control / "sandbox"
        host_workdir.mkdir(mode=0o700)
        if spec["drop"]:
            os.chown(host_workdir, uid, gid)
        workdir = "/sandbox" if spec["mountns"] else str(host_workdir)

        layers = ["fresh-interpreter(-I -S -B)", "minimal-env", "process-group", "wall-clock-kill",
                  "bounded-output", "rlimits"]
        if spec["cgroups"] and root:
            mem_total = (memory_mb + workdir_mb + 64) << 20
            cgroups = _Cgroups(f"{os.getpid()}-{uid}-{secrets.token_hex(3)}", max_procs + 2, mem_total)
            layers += cgroups.layers
        for key, name in (("netns", "netns"), ("mountns", "mountns+pivot_root"), ("pidns", "pidns"),
                          ("ipcns", "ipcns"), ("utsns", "utsns"), ("cgroupns", "cgroupns")):
            if spec[key]:
                layers.append(name)
        if mode == "userns":
            layers.append("userns")
        if spec["drop"]:
            layers += ["uid-drop", "capabilities-dropped"]
        layers.append("no_new_privs")
        if audit_hook:
            layers.append("audit-hook")

        cpu = int(cpu_s if cpu_s is not None else math.ceil(timeout_s) + 1)
        nproc = max_procs if spec["drop"] else _own_task_count() + max_procs
        rlimits = {"AS": memory_mb << 20, "CPU": [cpu, cpu + 1], "FSIZE": workdir_mb << 20,
                   "NOFILE": max_open_files, "NPROC": nproc, "CORE": 0}
        child_env = {"PATH": _PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
                     "LC_ALL": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox"}
        child_env.update(env or {})

        result_r, result_w = os.pipe()
        nonce_r, nonce_w = os.pipe()
        fds += [result_r, result_w, nonce_r, nonce_w]
        nonce = secrets.token_hex(16)
        os.write(nonce_w, nonce.encode())
        os.close(nonce_w)
        fds.remove(nonce_w)

        cfg = {
            "mode": mode, "uid": uid, "gid": gid, "host_pid": os.getpid(), "python": exe,
            "python_prefixes": prefixes,
            "control_dir": str(control), "new_root": str(control / "root"), "host_workdir": str(host_workdir),
            "program_path": str(control / "program.py"), "bootstrap_path": str(control / "bootstrap.py"),
            "candidate_path": str(control / "candidate.py") if candidate is not None else None,
            "entry_point": entry_point,
            "drop": bool(spec["drop"]), "workdir_bytes": workdir_mb << 20, "workdir_inodes": 4096,
            "rlimits": rlimits, "env": child_env,
            "audit_hook": audit_hook, "result_fd": result_w, "nonce_fd": nonce_r,
            "cgroup_procs": cgroups.procs_files if cgroups else [],
            **{k: spec[k] for k in ("netns", "mountns", "pidns", "ipcns", "utsns", "cgroupns")},
        }
        cfg_path = control / "config.json"
        cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
        os.chmod(cfg_path, 0o600)

        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable or exe, "-I", "-S", "-B", str(_LAUNCHER), str(control)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(result_w, nonce_r), start_new_session=True, close_fds=True,
            env={"PATH": _PATH, "LANG": "C.UTF-8"}, cwd=str(control),
        )
        for fd in (result_w, nonce_r):
            os.close(fd)
            fds.remove(fd)
        sup = _supervise(proc, result_r, t0 + timeout_s, max_output_bytes, tail_bytes)
        fds.remove(result_r)  # closed by _supervise
        _terminate(proc, sup, cgroups, uid if spec["drop"] else None)
        rc = proc.returncode
        duration = time.monotonic() - t0
        oom = cgroups.oom_kills() if cgroups else 0
        status, reason = _classify(sup, rc, nonce, oom, timeout_s, max_output_bytes)
        return ExecResult(
            passed=status == "passed", status=status, reason=reason, duration_s=round(duration, 4),
            returncode=rc, stdout_tail=sup["stdout"].decode("utf-8", "replace"),
            stderr_tail=sup["stderr"].decode("utf-8", "replace"), stdout_bytes=sup["stdout_bytes"],
            stderr_bytes=sup["stderr_bytes"], layers=tuple(layers), mode=mode,
            uid=uid if spec["drop"] else None, meta=dict(meta or {}),
        )
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if proc is not None and proc.returncode is None:
            _kill_group(proc)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if cgroups:
            cgroups.remove()
        shutil.rmtree(control, ignore_errors=True)


def _launcher_child(sup: dict[str, Any]) -> int | None:
    """Host pid of the sandbox's PID 1, from the launcher's first line (written before the child runs)."""
    first = bytes(sup["result"]).split(b"\n", 1)[0].decode("ascii", "replace")
    if first.startswith("@launcher child "):
        try:
            return int(first.split()[2])
        except (ValueError, IndexError):
            return None
    return None


def _terminate(proc: subprocess.Popen, sup: dict[str, Any], cgroups: _Cgroups | None,
               uid: int | None) -> None:
    """Kill everything the run left and reap the launcher.

    Order matters: the sandbox processes first (cgroup, then PID 1 of the namespace, checked to be
    the launcher's child), so that the launcher is still there to reap PID 1 and exits by itself;
    the launcher's process group only if it does not; a sweep of the run's uid last.
    """
    if cgroups:
        cgroups.kill_all()
    child = _launcher_child(sup)
    if child is not None and not _exited(proc):
        _kill_pid(child, ppid=proc.pid)
    end = time.monotonic() + 1.0
    while not _exited(proc) and time.monotonic() < end:
        time.sleep(0.005)
    _kill_group(proc)  # not reaped yet: the group id is still ours
    proc.wait()
    if uid is not None:
        _sweep_uid(uid)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is not None:  # already reaped: its pid may belong to someone else now
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen) -> bool:
    """Has the launcher exited? Checked with WNOWAIT: the zombie keeps its pid (and group id) reserved."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _supervise(proc: subprocess.Popen, result_fd: int, deadline: float, max_output: int,
               tail_bytes: int) -> dict[str, Any]:
    """Read stdout / stderr / the result channel until the run ends, the deadline or the output cap."""
    out = {"stdout": bytearray(), "stderr": bytearray(), "result": bytearray(), "stdout_bytes": 0,
           "stderr_bytes": 0, "timed_out": False, "output_exceeded": False}
    sel = selectors.DefaultSelector()
    names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr", result_fd: "result"}
    for fd in names:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(names)
    exit_seen: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                out["timed_out"] = not _exited(proc)
                break
            if exit_seen is None and _exited(proc):
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
        proc.stdout.close()
        proc.stderr.close()
        os.close(result_fd)
    return out


_SIGNAMES = {int(s): s.name for s in signal.Signals}


def _classify(sup: dict[str, Any], rc: int, nonce: str, oom: int, timeout_s: float,
              max_output: int) -> tuple[str, str]:
    lines = sup["result"].decode("utf-8", "replace").splitlines()
    setup_errors = [ln[len("@launcher setup-error "):] for ln in lines if ln.startswith("@launcher setup-error ")]
    ours = [ln[len(nonce) + 1:] for ln in lines if ln.startswith(nonce + " ")]
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
    if rc == _SETUP_ERROR_EXIT and setup_errors:
        return "error", "sandbox setup failed: " + setup_errors[-1][:300]
    if kind == "ok":
        return "failed", f"exit code {rc} after the program finished"
    return "failed", f"exited with code {rc} before the program finished"
