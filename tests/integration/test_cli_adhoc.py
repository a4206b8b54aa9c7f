"""`benchtrust eval`, `compare` and the listing verbs (issue 14 item 1), through the real console script.

The session's smoke run (tests/conftest.py ``smoke_run``: SmolLM2 on 6 MMLU items and a HumanEval problem) is
copied to a temporary data folder (lake, warehouse, cache, reports; a fresh Dagster instance), so its home stays as
the other tests expect it. Two ad-hoc evaluations run there for real (Dagster backfills, SmolLM2 inference, dbt
build, reports) with a byte-for-byte copy of config/ as BENCHTRUST_CONFIG:

1. ``eval --model gguf:<the SmolLM2 file> --benchmark mmlu --limit 20``: a second model name for the same weights,
   whose 20 items overlap the smoke run's 6 (both draws order items by the same seeded hash), so the pair has
   shared items and a McNemar p;
2. the same file as ``--name smollm2-other --limit 1 --seed 1``: one item outside both draws, so its pairs have no
   shared item — ``compare`` must say so and print no p-value.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]
SMOKE_MODEL = "smollm2-135m-instruct"
ADHOC_MODEL = "smollm2-135m-instruct.q4-1"  # derived from SmolLM2-135M-Instruct.Q4_1.gguf
OTHER_MODEL = "smollm2-other"
HEADLINE = re.compile(
    r"^(?P<model>\S+) × mmlu: accuracy (?P<acc>\d\.\d{3}), 95% CI \[(?P<lo>\d\.\d{3}), (?P<hi>\d\.\d{3})\] "
    r"\(wilson\), n=(?P<n>\d+)",
    re.M,
)


def _gguf_file() -> Path:
    """The SmolLM2 GGUF file, located the way the registry's wheel_gguf source locates it."""
    from benchtrust.registry import Registry

    paths = Registry.load(REPO / "config", data_registry=False).model_entry(SMOKE_MODEL).source.stat_paths()
    assert paths and paths[0].is_file()
    return paths[0]


def _cli(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


class Adhoc:
    def __init__(self, home: Path, config: Path, env: dict[str, str]):
        self.home, self.config, self.env = home, config, env
        self.evals: list[subprocess.CompletedProcess[str]] = []

    def rows(self, sql: str, *params: object) -> list[tuple]:
        con = duckdb.connect(str(self.home / "warehouse" / "benchtrust.duckdb"), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def adhoc(smoke_run, tmp_path_factory) -> Adhoc:
    smoke_home, summary = smoke_run
    assert summary.ok
    tmp = tmp_path_factory.mktemp("adhoc")
    home, config = tmp / "bt_home", tmp / "config"
    shutil.copytree(smoke_home, home, ignore=shutil.ignore_patterns("dagster_home", "logs", "*.lock", "*.tmp"))
    shutil.copytree(REPO / "config", config)
    env = dict(os.environ, BENCHTRUST_HOME=str(home), BENCHTRUST_CONFIG=str(config))
    env["DAGSTER_HOME"] = str(home / "dagster_home")
    for k in ("BENCHTRUST_PROFILE", "BENCHTRUST_LAKE", "BENCHTRUST_WAREHOUSE"):
        env.pop(k, None)
    a = Adhoc(home, config, env)
    gguf = f"gguf:{_gguf_file()}"
    a.evals.append(_cli(env, "eval", "--model", gguf, "--benchmark", "mmlu", "--limit", "20"))
    a.evals.append(_cli(env, "eval", "-m", gguf, "--name", OTHER_MODEL, "-b", "mmlu", "--limit", "1", "--seed", "1"))
    return a


def test_eval_registers_in_the_data_folder_runs_and_prints_the_headline(adhoc: Adhoc):
    first, second = adhoc.evals
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    # config/ untouched: every file byte-identical to the project's, no file added
    cmp = filecmp.dircmp(REPO / "config", adhoc.config)
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files), cmp.report()
    assert all(filecmp.cmp(REPO / "config" / f, adhoc.config / f, shallow=False) for f in cmp.common_files)
    reg = adhoc.home / "registry"
    assert ADHOC_MODEL in (reg / "models.yaml").read_text() and OTHER_MODEL in (reg / "models.yaml").read_text()
    assert "eval-smollm2-135m-instruct.q4-1-mmlu-n20" in (reg / "profiles.yaml").read_text()

    m = HEADLINE.search(first.stdout)
    assert m and m["model"] == ADHOC_MODEL and m["n"] == "20", first.stdout
    acc, lo, hi = float(m["acc"]), float(m["lo"]), float(m["hi"])
    assert lo <= acc <= hi and hi - lo > 0.1  # n=20: a Wilson interval is wide
    (row,) = adhoc.rows(
        "select accuracy, ci_low, ci_high, n_scored from marts.reliability_report "
        "where model = ? and benchmark = 'mmlu' and is_latest",
        ADHOC_MODEL,
    )
    assert (round(row[0], 3), round(row[1], 3), round(row[2], 3), row[3]) == (acc, lo, hi, 20)
    report = re.search(r"^report: (\S+)$", first.stdout, re.M)
    assert report and Path(report[1]).is_file() and str(adhoc.home) in report[1], first.stdout
    # the run went through Dagster: the predictions partition of the ad-hoc model was materialized there
    preds = adhoc.rows("select count(distinct item_id) from marts.predictions where model = ?", ADHOC_MODEL)
    assert preds == [(20,)]
    assert "Traceback" not in first.stderr + second.stderr


def test_compare_prints_mcnemar_p_for_shared_items_and_none_without(adhoc: Adhoc):
    (row,) = adhoc.rows(
        "select model_a, n_shared, delta, mcnemar_p from marts.model_comparisons where comparison = 'models' "
        "and benchmark = 'mmlu' and ? in (model_a, model_b) and ? in (model_a, model_b)",
        SMOKE_MODEL,
        ADHOC_MODEL,
    )
    assert row[1] > 0  # both draws start with the lowest-hash items (see the module docstring)
    p = _cli(adhoc.env, "compare", SMOKE_MODEL, ADHOC_MODEL, "--benchmark", "mmlu", timeout=120)
    assert p.returncode == 0, p.stderr
    m = re.search(r"on (\d+) shared items: .*difference \(\S+ − \S+\) ([+-]\d\.\d{3}); .*McNemar p (\S+);", p.stdout)
    assert m, p.stdout
    assert int(m[1]) == row[1] and float(m[3]) == pytest.approx(row[3], rel=1e-2)
    delta = row[2] if row[0] == SMOKE_MODEL else -row[2]  # the mart's delta is model_b − model_a
    assert float(m[2]) == pytest.approx(delta, abs=1e-3)
    assert "MDE" in p.stdout
    swapped = _cli(adhoc.env, "compare", ADHOC_MODEL, SMOKE_MODEL, "-b", "mmlu", timeout=120)
    m_swapped = re.search(r"difference \(\S+ − \S+\) ([+-]\d\.\d{3})", swapped.stdout)
    assert m_swapped and float(m_swapped[1]) == pytest.approx(-delta, abs=1e-3), swapped.stdout

    (other,) = adhoc.rows(
        "select n_shared from marts.model_comparisons where comparison = 'models' and benchmark = 'mmlu' "
        "and ? in (model_a, model_b) and ? in (model_a, model_b)",
        SMOKE_MODEL,
        OTHER_MODEL,
    )
    assert other == (0,)  # the precondition: seed 1 draws an item outside the smoke run's six
    none = _cli(adhoc.env, "compare", OTHER_MODEL, SMOKE_MODEL, timeout=120)
    assert none.returncode == 0, none.stderr
    assert "mmlu: smollm2-other vs smollm2-135m-instruct: no shared items" in none.stdout
    assert "McNemar" not in none.stdout and not re.search(r"\bp\b", none.stdout)
    unrelated = _cli(adhoc.env, "compare", ADHOC_MODEL, SMOKE_MODEL, "--benchmark", "humaneval", timeout=120)
    assert unrelated.returncode == 0 and "no shared items" in unrelated.stdout and "McNemar" not in unrelated.stdout

    unknown = _cli(adhoc.env, "compare", SMOKE_MODEL, "gpt-nope", timeout=120)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip().count("\n") == 0 and "gpt-nope" in unknown.stderr and ADHOC_MODEL in unknown.stderr


def test_listing_verbs_show_config_and_ad_hoc_entries(adhoc: Adhoc):
    models = _cli(adhoc.env, "models", timeout=120)
    assert models.returncode == 0, models.stderr
    lines = {ln.split()[0]: ln.split() for ln in models.stdout.splitlines()[1:]}
    assert lines[SMOKE_MODEL][-1] == "config" and lines[SMOKE_MODEL][1] == "wheel_gguf"
    assert lines[ADHOC_MODEL][-1] == "ad-hoc" and lines[ADHOC_MODEL][2] == str(_gguf_file())
    assert lines[OTHER_MODEL][-1] == "ad-hoc"
    profiles = _cli(adhoc.env, "profiles", timeout=120)
    rows = {ln.split()[0]: ln for ln in profiles.stdout.splitlines()[1:]}
    assert "mmlu[n=20]" in rows["eval-smollm2-135m-instruct.q4-1-mmlu-n20"] and rows["smoke"].endswith("config")
    assert rows["eval-smollm2-other-mmlu-n1-seed1"].endswith("ad-hoc")
    benchmarks = _cli(adhoc.env, "benchmarks", timeout=120)
    assert {ln.split()[0] for ln in benchmarks.stdout.splitlines()[1:]} >= {"mmlu", "humaneval"}


def test_model_sensor_leaves_ad_hoc_models_to_their_own_profile(adhoc: Adhoc, monkeypatch):
    """The model-change sensor runs new models on its profile's benchmarks; an ad-hoc model is a one-off evaluation
    and must not be pulled into them (here: HumanEval of the smoke profile, which the ad-hoc models never ran)."""
    import dagster as dg

    from pipelines.resources import BenchtrustResource
    from sensors.changes import CURSOR_VERSION, model_change_sensor

    for k in ("BENCHTRUST_HOME", "BENCHTRUST_CONFIG", "BENCHTRUST_LAKE", "BENCHTRUST_WAREHOUSE"):
        monkeypatch.setenv(k, adhoc.env.get(k, ""))
    cursor = json.dumps({"v": CURSOR_VERSION, "models": {}})  # a tick from before the evals: every model is new
    with dg.instance_for_test() as inst:
        ctx = dg.build_sensor_context(
            instance=inst, cursor=cursor, resources={"benchtrust": BenchtrustResource(profile="smoke")}
        )
        res = model_change_sensor(ctx)
    requested = {r.run_key.split("|", 1)[1].rsplit(":", 1)[0] for r in res.run_requests}  # <bench>|<model>:<fp>
    assert not requested & {ADHOC_MODEL, OTHER_MODEL}
    assert set(json.loads(res.cursor)["models"]) == {SMOKE_MODEL}
