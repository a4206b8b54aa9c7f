"""`benchtrust --version`, shell completion, and `benchtrust query` reading SQL from stdin or a file (issue 14 item 6).

The real console script in a subprocess; the warehouse is a real DuckDB file with one marts table."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    wh = tmp_path / "home" / "warehouse" / "benchtrust.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute("create schema marts; create table marts.t as select 7 as n, 'a' as s")
    con.close()
    return tmp_path / "home"


def _cli(*args: str, home: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["BENCHTRUST_HOME"] = str(home)
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=120)


def test_version_prints_the_installed_package_version():
    p = _cli("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"benchtrust {version('benchtrust')}"


def test_shell_completion_script_and_completions():
    script = Path(sys.executable).parent / "benchtrust"  # the console script: completion is keyed by its name
    p = subprocess.run(
        [str(script), "--show-completion", "bash"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0 and "_benchtrust_completion()" in p.stdout, p.stdout[:300]
    env = dict(os.environ, _BENCHTRUST_COMPLETE="complete_bash", COMP_WORDS="benchtrust qu", COMP_CWORD="1")
    done = subprocess.run([str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["query"]


def test_query_reads_sql_from_stdin_and_from_a_file(home: Path, tmp_path: Path):
    p = _cli("query", "-", "-f", "csv", home=home, stdin="select n, s from marts.t\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["n,s", "7,a"]
    f = tmp_path / "q.sql"
    f.write_text("-- the file's comment\nselect n + 1 as m from marts.t;\n")
    p = _cli("query", "--file", str(f), "-f", "csv", home=home)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["m", "8"]


def test_query_file_errors_and_refusals_are_one_line(home: Path, tmp_path: Path):
    missing = _cli("query", "--file", str(tmp_path / "absent.sql"), home=home)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "absent.sql" in missing.stderr
    both = _cli("query", "select 1", "--file", str(tmp_path / "absent.sql"), home=home)
    assert both.returncode == 2 and "not both" in both.stderr
    f = tmp_path / "evil.sql"  # the allow-list applies to SQL from a file exactly as to an argument
    f.write_text("COPY (select 1) TO 'out.csv'")
    refused = _cli("query", "--file", str(f), home=home)
    assert refused.returncode == 2 and refused.stderr.startswith("refused:"), refused.stderr
    assert not (REPO / "out.csv").exists()
    empty = _cli("query", "-", home=home, stdin="   \n")
    assert empty.returncode == 2
