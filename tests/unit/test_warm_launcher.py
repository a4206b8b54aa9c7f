"""The warm run-worker process (pipelines/launcher.py): one child per request, no zombies, restarted when the code
it loaded changed. That runs execute in its children is asserted on real runs in
tests/integration/test_parallel_run.py and, under SIGKILL, in tests/integration/test_fault_injection.py."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from pipelines import launcher as warm


def _gone(pid: int, within_s: float = 30.0) -> bool:
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return False  # nobody reaps it: the warm process must not leave zombies
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.timeout(180)
def test_forks_one_child_per_run_and_restarts_when_sources_change():
    launcher = warm.WarmRunLauncher()
    launcher.prestart()
    first = launcher._warm
    assert first is not None
    try:
        # a request the child cannot execute (no such instance): the child reports the error and exits; the warm
        # process answers with its pid and is still there for the next run
        pid = first.fork("no-such-run", "{}")
        assert pid not in (first.proc.pid, os.getpid())
        assert _gone(pid), "the failed child is neither gone nor reaped"
        assert first.alive()
        assert first.ready is not None and first.ready["pid"] == first.proc.pid
        second_pid = first.fork("no-such-run-either", "{}")
        assert second_pid != pid

        # a source file changed after the warm process loaded the code: the next launch gets a fresh one
        src = warm.PROJECT_ROOT / "pipelines" / "launcher.py"
        st = src.stat()
        os.utime(src, (st.st_atime, time.time() + 5))
        try:
            with launcher._lock:
                fresh = launcher._current()
        finally:
            os.utime(src, (st.st_atime, st.st_mtime))
        assert fresh is not first and fresh.alive()
        first.proc.wait(timeout=30)  # the old one ends at the end of its input
    finally:
        launcher.dispose()
    assert launcher._warm is None
