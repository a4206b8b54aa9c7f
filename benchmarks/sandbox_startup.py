"""Start-up latency of the sandbox against bubblewrap (issue 13, item 7).

Interleaved rounds of a program that does nothing (``python -I -S -B -c pass``): the bare interpreter,
:func:`benchtrust.sandbox.run_program` (every layer this host allows), ``bwrap --unshare-all`` with read-only
system binds, /proc, /dev and a tmpfs (as the current user), and the same bwrap under an unprivileged host uid
(``setpriv``, the system python, since a pyenv prefix under /root is unreadable to it). Then whether the
loopback is usable inside each. Needs ``bwrap`` (Debian: ``apt-get install bubblewrap``); without it only the
first two are measured. Results: ``benchmarks/results/sandbox_startup.json``.

    python benchmarks/sandbox_startup.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchtrust.sandbox import isolation_status, run_program

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = (
    "import socket\ns = socket.socket()\ntry:\n    s.bind(('127.0.0.1', 0)); s.listen()\n"
    "    socket.create_connection(s.getsockname(), timeout=1); print('loopback up')\n"
    "except OSError as e:\n    print('loopback unusable:', e)\n"
)


def bwrap_command(python: str, prefix: str) -> list[str]:
    binds: list[str] = []
    for d in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = "/" + d
        if os.path.islink(p):
            binds += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            binds += ["--ro-bind", p, p]
    return [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *binds,
        "--ro-bind",
        prefix,
        prefix,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/sandbox",
        "--chdir",
        "/sandbox",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/sandbox",
        python,
        "-I",
        "-S",
        "-B",
    ]


def cases() -> dict[str, Callable[[], object]]:
    exe = os.path.realpath(sys.executable)
    prefix = os.path.dirname(os.path.dirname(exe))
    out: dict[str, Callable[[], object]] = {
        "bare interpreter": lambda: subprocess.run([exe, "-I", "-S", "-B", "-c", "pass"], check=True),
        "benchtrust run_program": lambda: run_program("pass", timeout_s=10).passed or sys.exit("run_program failed"),
    }
    if shutil.which("bwrap"):
        out["bwrap (current user)"] = lambda: subprocess.run(bwrap_command(exe, prefix) + ["-c", "pass"], check=True)
        if os.geteuid() == 0 and shutil.which("setpriv"):
            nobody = ["setpriv", "--reuid=2000000123", "--regid=2000000123", "--clear-groups"]
            out["bwrap under an unprivileged uid (setpriv, system python)"] = lambda: subprocess.run(
                nobody + bwrap_command("/usr/bin/python3", "/usr") + ["-c", "pass"], check=True
            )
    return out


def measure(rounds: int) -> dict[str, dict[str, float]]:
    todo = cases()
    times: dict[str, list[float]] = {k: [] for k in todo}
    for _ in range(rounds):
        for k, f in todo.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    res = {}
    for k, xs in times.items():
        xs = sorted(xs)
        res[k] = {
            "median_ms": round(1000 * statistics.median(xs), 1),
            "p10_ms": round(1000 * xs[len(xs) // 10], 1),
            "p90_ms": round(1000 * xs[(9 * len(xs)) // 10], 1),
            "rounds": len(xs),
        }
    return res


def loopback() -> dict[str, str]:
    r = run_program(LOOPBACK, audit_hook=False)
    out = {"run_program (audit hook off)": (r.stdout_tail + r.stderr_tail).strip()[-200:]}
    if shutil.which("bwrap"):
        exe = os.path.realpath(sys.executable)
        p = subprocess.run(
            bwrap_command(exe, os.path.dirname(os.path.dirname(exe))) + ["-c", LOOPBACK], capture_output=True, text=True
        )
        out["bwrap --unshare-all"] = (p.stdout + p.stderr).strip()[-200:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sandbox_startup.json")
    a = ap.parse_args()
    bw = (
        subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
        if shutil.which("bwrap")
        else None
    )
    out = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "euid": os.geteuid(),
            "load_average_1min_at_start": round(os.getloadavg()[0], 2),
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "bwrap": bw,
        },
        "isolation": isolation_status()["mode"],
        "startup": measure(a.rounds),
        "loopback": loopback(),
    }
    print(json.dumps(out, indent=1))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
