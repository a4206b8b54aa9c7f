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
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchtrust.sandbox._cgroups import Cgroups
from benchtrust.sandbox._procs import UID_BASE, alloc_uid, issued_uids, leftover_processes, own_task_count
from benchtrust.sandbox._supervise import classify, kill_group, supervise, terminate

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
_HERE = Path(__file__).resolve().parent
_LAUNCHER = _HERE / "_launcher.py"
_BOOTSTRAP = _HERE / "_bootstrap.py"
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
# isolation modes

_MODES: dict[str, dict[str, bool | None]] = {
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


def _mode_spec(mode: str, root: bool) -> dict[str, Any]:
    """The layers of ``mode`` for this host (``drop`` resolved), or SandboxUnavailable when it cannot hold here."""
    if mode not in _MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}")
    spec = dict(_MODES[mode])
    if spec["drop"] is None:  # minimal mode: a per-run uid when we may change uids (root)
        spec["drop"] = root
    if spec["drop"] and not root:
        raise SandboxUnavailable("mode 'privileged' needs root")
    if mode == "userns" and root:
        # root could only map uid 0 into the namespace, which keeps DAC override on root-owned host
        # files; as root the 'privileged' mode (a real unprivileged uid) is the one to use
        raise SandboxUnavailable("mode 'userns' is for unprivileged hosts (as root it would map uid 0)")
    return spec


def _write_control(control: Path, code: str, candidate: str | None, drop: bool, uid: int, gid: int) -> Path:
    """The run's control folder: the program, the bootstrap and the candidate read-only, an empty work folder
    owned by the run's uid (returned)."""
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
    if drop:
        os.chown(host_workdir, uid, gid)
    return host_workdir


def _layers(mode: str, spec: dict[str, Any], cgroups: Cgroups | None, audit_hook: bool) -> list[str]:
    """The names of the isolation layers this run has, in the order they are reported."""
    layers = ["fresh-interpreter(-I -S -B)", "minimal-env", "process-group", "wall-clock-kill",
              "bounded-output", "rlimits"]
    if cgroups is not None:
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
    return layers


def _rlimits(spec: dict[str, Any], timeout_s: float, cpu_s: float | None, memory_mb: int, workdir_mb: int,
             max_open_files: int, max_procs: int) -> dict[str, Any]:
    """The launcher's rlimits; without a uid drop RLIMIT_NPROC counts the host user's tasks too, so they are added."""
    cpu = int(cpu_s if cpu_s is not None else math.ceil(timeout_s) + 1)
    nproc = max_procs if spec["drop"] else own_task_count() + max_procs
    return {"AS": memory_mb << 20, "CPU": [cpu, cpu + 1], "FSIZE": workdir_mb << 20,
            "NOFILE": max_open_files, "NPROC": nproc, "CORE": 0}


def _child_env(workdir: str, env: dict[str, str] | None) -> dict[str, str]:
    """The program's whole environment: nothing of the host's, plus ``env``."""
    child_env = {"PATH": _PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
                 "LC_ALL": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox"}
    child_env.update(env or {})
    return child_env


def _write_config(control: Path, cfg: dict[str, Any]) -> None:
    """The launcher's configuration, readable by the host user only."""
    cfg_path = control / "config.json"
    cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
    os.chmod(cfg_path, 0o600)


def _start_launcher(exe: str, control: Path, pass_fds: tuple[int, int]) -> subprocess.Popen[bytes]:
    """The trusted launcher in a fresh isolated interpreter and a new session, with only ``pass_fds`` inherited."""
    return subprocess.Popen(
        [sys.executable or exe, "-I", "-S", "-B", str(_LAUNCHER), str(control)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=pass_fds, start_new_session=True, close_fds=True,
        env={"PATH": _PATH, "LANG": "C.UTF-8"}, cwd=str(control),
    )


def _nonce_pipe(fds: list[int]) -> tuple[int, str]:
    """A pipe that holds a fresh nonce, for the bootstrap to prefix its verdict lines with: returns the read end
    (kept in ``fds`` until handed to the launcher) and the nonce."""
    nonce_r, nonce_w = os.pipe()
    fds += [nonce_r, nonce_w]
    nonce = secrets.token_hex(16)
    os.write(nonce_w, nonce.encode())
    os.close(nonce_w)
    fds.remove(nonce_w)
    return nonce_r, nonce


def _close_quietly(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _run(code: str, *, mode: str, timeout_s: float, memory_mb: int, max_procs: int = 32,
         max_output_bytes: int = 1 << 20, tail_bytes: int = 4096, workdir_mb: int = 64,
         max_open_files: int = 64, cpu_s: float | None = None, audit_hook: bool = True,
         env: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
         candidate: str | None = None, entry_point: str | None = None) -> ExecResult:
    """One run in ``mode``: control folder, cgroups, launcher configuration, launch, supervision, clean-up and
    the verdict. Every step is a named function; what stays here is the order and the clean-up of what
    the steps created, which must see every resource (fds, launcher, cgroups, control folder) at once."""
    root = os.geteuid() == 0
    spec = _mode_spec(mode, root)
    exe, prefixes = _interpreter()
    if spec["drop"] and not spec["mountns"] and not _world_executable(exe):
        raise SandboxUnavailable(f"{exe} is not executable by an unprivileged uid and there is no mount namespace")

    uid = alloc_uid() if spec["drop"] else os.getuid()
    gid = uid if spec["drop"] else os.getgid()
    control = Path(tempfile.mkdtemp(prefix="benchtrust-sbx-"))
    cgroups: Cgroups | None = None
    proc: subprocess.Popen[bytes] | None = None
    fds: list[int] = []
    try:
        host_workdir = _write_control(control, code, candidate, bool(spec["drop"]), uid, gid)
        workdir = "/sandbox" if spec["mountns"] else str(host_workdir)
        if spec["cgroups"] and root:
            mem_total = (memory_mb + workdir_mb + 64) << 20
            cgroups = Cgroups(f"{os.getpid()}-{uid}-{secrets.token_hex(3)}", max_procs + 2, mem_total)
        layers = _layers(mode, spec, cgroups, audit_hook)

        result_r, result_w = os.pipe()
        fds += [result_r, result_w]
        nonce_r, nonce = _nonce_pipe(fds)

        _write_config(control, {
            "mode": mode, "uid": uid, "gid": gid, "host_pid": os.getpid(), "python": exe,
            "python_prefixes": prefixes,
            "control_dir": str(control), "new_root": str(control / "root"), "host_workdir": str(host_workdir),
            "program_path": str(control / "program.py"), "bootstrap_path": str(control / "bootstrap.py"),
            "candidate_path": str(control / "candidate.py") if candidate is not None else None,
            "entry_point": entry_point,
            "drop": bool(spec["drop"]), "workdir_bytes": workdir_mb << 20, "workdir_inodes": 4096,
            "rlimits": _rlimits(spec, timeout_s, cpu_s, memory_mb, workdir_mb, max_open_files, max_procs),
            "env": _child_env(workdir, env),
            "audit_hook": audit_hook, "result_fd": result_w, "nonce_fd": nonce_r,
            "cgroup_procs": cgroups.procs_files if cgroups else [],
            **{k: spec[k] for k in ("netns", "mountns", "pidns", "ipcns", "utsns", "cgroupns")},
        })

        t0 = time.monotonic()
        proc = _start_launcher(exe, control, (result_w, nonce_r))
        for fd in (result_w, nonce_r):
            os.close(fd)
            fds.remove(fd)
        sup = supervise(proc, result_r, t0 + timeout_s, max_output_bytes, tail_bytes)
        fds.remove(result_r)  # closed by supervise
        terminate(proc, sup, cgroups, uid if spec["drop"] else None)
        rc = proc.returncode
        duration = time.monotonic() - t0
        oom = cgroups.oom_kills() if cgroups else 0
        status, reason = classify(sup, rc, nonce, oom, timeout_s, max_output_bytes)
        return ExecResult(
            passed=status == "passed", status=status, reason=reason, duration_s=round(duration, 4),
            returncode=rc, stdout_tail=sup["stdout"].decode("utf-8", "replace"),
            stderr_tail=sup["stderr"].decode("utf-8", "replace"), stdout_bytes=sup["stdout_bytes"],
            stderr_bytes=sup["stderr_bytes"], layers=tuple(layers), mode=mode,
            uid=uid if spec["drop"] else None, meta=dict(meta or {}),
        )
    finally:
        _close_quietly(fds)
        if proc is not None and proc.returncode is None:
            kill_group(proc)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if cgroups:
            cgroups.remove()
        shutil.rmtree(control, ignore_errors=True)
