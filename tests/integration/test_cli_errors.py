"""Every expected user mistake is one line (issue 14 item 3): the real console entry point (``python -m
pipelines.cli``, i.e. :func:`pipelines.cli.main`) in a subprocess, on a data folder with no warehouse yet (or a
one-table warehouse where a case needs one) and a copy of config/ where a case breaks it. Each case checks: exactly
one line on stderr and nothing on stdout, the exit code (2 for usage errors), no traceback, and that the line names
the thing asked for and the choices. None of them starts a Dagster run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]


@pytest.fixture()
def folders(tmp_path: Path) -> dict[str, Path]:
    """A data folder without a warehouse, one with a warehouse holding a single report row, and a config copy."""
    cfg = tmp_path / "config"
    shutil.copytree(REPO / "config", cfg)
    profiles = yaml.safe_load((cfg / "profiles.yaml").read_text())
    profiles["profiles"]["badmodel"] = {"models": ["no-such-model"], "benchmarks": {"mmlu": {}}}
    profiles["profiles"]["badbench"] = {"models": ["smollm2-135m-instruct"], "benchmarks": {"no-such-bench": {}}}
    (cfg / "profiles.yaml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    broken = tmp_path / "broken"
    shutil.copytree(REPO / "config", broken)
    (broken / "models.yaml").write_text("models:\n  smollm2: x\n    source: y\n")  # a mapping under a scalar
    wh_home = tmp_path / "with_warehouse"
    (wh_home / "warehouse").mkdir(parents=True)
    con = duckdb.connect(str(wh_home / "warehouse" / "benchtrust.duckdb"))
    con.execute(
        "create schema marts; create table marts.reliability_report as select 'm1' as model, 'mmlu' as "
        "benchmark, 5 as n_scored, 0.4 as accuracy, 0.1 as ci_low, 0.8 as ci_high, null::double as "
        "prompt_spread, 'v1' as report_version, true as is_latest"
    )
    con.close()
    bad_instance = tmp_path / "bad_instance"
    (bad_instance / "dagster_home").mkdir(parents=True)
    (bad_instance / "dagster_home" / "dagster.yaml").write_text("run_queue: [\n")
    return {
        "empty": tmp_path / "empty",
        "config": cfg,
        "broken": broken,
        "warehouse": wh_home,
        "tmp": tmp_path,
        "bad_instance": bad_instance,
    }


def _cli(args: list[str], home: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BENCHTRUST_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"))
    env.pop("BENCHTRUST_DEBUG", None)
    env.pop("BENCHTRUST_PROFILE", None)
    if config is not None:
        env["BENCHTRUST_CONFIG"] = str(config)
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


# (case id, arguments, which data folder, which config, exit code, words the line must contain)
CASES = [
    ("unknown profile", ["run", "--profile", "nosuch"], "empty", None, 2, ["'nosuch'", "smoke", "default"]),
    (
        "unknown model in a profile",
        ["run", "--profile", "badmodel"],
        "empty",
        "config",
        2,
        ["no-such-model", "smollm2-135m-instruct"],
    ),
    (
        "unknown benchmark in a profile",
        ["run", "--profile", "badbench"],
        "empty",
        "config",
        2,
        ["no-such-bench", "mmlu"],
    ),
    (
        "bad YAML",
        ["run", "--profile", "smoke"],
        "empty",
        "broken",
        2,
        ["models.yaml", "not valid YAML", "(line 3, column 11)"],
    ),
    ("query before any run", ["query", "select 1"], "empty", None, 2, ["no warehouse", "benchtrust run"]),
    ("report before any run", ["report"], "empty", None, 2, ["no warehouse", "benchtrust run"]),
    ("report of an unknown model", ["report", "nosuch"], "warehouse", None, 2, ["'nosuch'", "m1", "mmlu"]),
    ("query refused", ["query", "drop table marts.reliability_report"], "warehouse", None, 2, ["refused"]),
    ("query file missing", ["query", "--file", "{tmp}/absent.sql"], "warehouse", None, 2, ["absent.sql"]),
    ("import file missing", ["import", "helm", "{tmp}/absent.json"], "empty", None, 2, ["absent.json"]),
    ("import unknown format", ["import", "nosuchfmt", "{tmp}"], "empty", None, 2, ["'nosuchfmt'", "helm", "lm-eval"]),
    ("corpus file missing", ["corpus", "add", "web", "{tmp}/absent.jsonl"], "empty", None, 2, ["absent.jsonl"]),
    ("corpus scan, nothing registered", ["corpus", "scan", "web"], "empty", None, 2, ["corpus add"]),
    ("corpora, bad YAML", ["corpora"], "empty", "broken_corpora", 2, ["corpora.yaml", "not valid YAML"]),
    ("unknown option", ["run", "--profle", "smoke"], "empty", None, 2, ["--profle", "--help"]),
    ("ui, bad dagster.yaml", ["ui"], "bad_instance", None, 2, ["dagster.yaml", "line 2"]),
    ("ui, bad port", ["ui", "--port", "abc"], "empty", None, 2, ["--port", "abc"]),
    ("unknown verb", ["runn"], "empty", None, 2, ["runn"]),
]


@pytest.mark.parametrize(("case", "args", "home", "config", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_user_mistake_is_one_line(folders, case, args, home, config, code, words):
    if config == "broken_corpora":
        shutil.copytree(REPO / "config", folders["tmp"] / "bc")
        (folders["tmp"] / "bc" / "corpora.yaml").write_text("corpora:\n  web: {type: jsonl\n  other: 1\n")
        config_dir: Path | None = folders["tmp"] / "bc"
    else:
        config_dir = folders[config] if config else None
    p = _cli([a.replace("{tmp}", str(folders["tmp"])) for a in args], folders[home], config_dir)
    err = p.stderr.strip().splitlines()
    assert p.returncode == code, (case, p.returncode, p.stdout[-500:], p.stderr[-2000:])
    assert len(err) == 1 and not p.stdout.strip(), (case, p.stdout[-500:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "╭" not in p.stderr, p.stderr
    for w in words:
        assert w in err[0], (case, w, err[0])


def test_debug_shows_the_traceback(folders):
    """--debug (before or after the verb) trades the one line for the traceback."""
    for args in (["--debug", "run", "--profile", "nosuch"], ["run", "--profile", "nosuch", "--debug"]):
        p = _cli(args, folders["empty"])
        assert p.returncode != 0 and "Traceback" in p.stderr and "unknown profile 'nosuch'" in p.stderr, p.stderr[-800:]
