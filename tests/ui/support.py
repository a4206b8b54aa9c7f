"""Shared by the versioning and UI tests: a temporary benchtrust home whose reports went through the real chain
(items → predictions → dbt → reports, a dataset change picked up by the sensor, a model change, automation),
with a deterministic fake engine instead of a language model so it takes seconds, and headless Chromium.

``versioned_home()`` builds it once per test session (``functools.cache``) in a temporary folder and restores
the environment afterwards; tests read its files and warehouse.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
HOSTILE = '<script>alert("pwned")</script>" onerror="alert(2)'
LETTERS = "ABCD"
ENV_KEYS = (
    "BENCHTRUST_HOME",
    "BENCHTRUST_CONFIG",
    "DAGSTER_HOME",
    "BENCHTRUST_PROFILE",
    "BENCHTRUST_LAKE",
    "BENCHTRUST_WAREHOUSE",
)


# ------------------------------------------------------------------------------------------ config and data


def use_in_memory_launcher(dagster_home: Path) -> None:
    """The embedded default instance, but with Dagster's synchronous in-memory run launcher: the runs that
    `benchtrust run` submits (through the same backfills, queue and pools) execute inside this test process,
    where the fake engines are patched in. Production runs launch run workers as subprocesses."""
    from pipelines.instance import DEFAULT_INSTANCE_YAML

    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(
        DEFAULT_INSTANCE_YAML.format(max_runs=4)
        + "run_launcher:\n  module: dagster._core.launcher.sync_in_memory_run_launcher\n  class: SyncInMemoryRunLauncher\n"
    )


def write_items(path: Path, n: int, edits: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """``n`` four-option items, gold positions balanced A–D, one of them carrying hostile markup."""
    edits = edits or {}
    rows = []
    for i in range(n):
        q = f"Question {i:02d}: which option names the number {i * 7 % 13}?"
        if i == 5:
            q = f"Which of these is markup? {HOSTILE}"
        q = edits.get(i, q)
        gold = i % 4
        choices = [f"option {j} for {i}" + (f" {HOSTILE}" if i == 5 and j == 1 else "") for j in range(4)]
        rows.append({"id": f"q{i:02d}", "question": q, "choices": choices, "answer": gold, "topic": "toy"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def write_config(
    dst: Path,
    benchmark_file: Path,
    models: dict[str, dict[str, Any]],
    profile_models: list[str],
    benchmark: str = "tinyq",
    templates: tuple[str, ...] = ("mmlu_harness", "mmlu_paren"),
) -> Path:
    """Copy the project's registries and register ``benchmark`` (a local JSONL file), ``models`` and a ``tiny``
    profile over them."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in (REPO / "config").glob("*.yaml"):
        shutil.copy(p, dst / p.name)
    b = yaml.safe_load((dst / "benchmarks.yaml").read_text())
    b["benchmarks"][benchmark] = {
        "description": "a tiny local multiple-choice benchmark (tests)",
        "source": {
            "type": "file",
            "path": str(benchmark_file),
            "mapping": {
                "input": "question",
                "choices": "choices",
                "gold": "answer",
                "gold_format": "index",
                "subject": "topic",
                "id": "id",
            },
        },
        "grid": {"templates": list(templates)},
    }
    (dst / "benchmarks.yaml").write_text(yaml.safe_dump(b, sort_keys=False))
    m = yaml.safe_load((dst / "models.yaml").read_text())
    m["models"].update(models)
    (dst / "models.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    p = yaml.safe_load((dst / "profiles.yaml").read_text())
    p["profiles"]["tiny"] = {"description": "tests", "models": profile_models, "benchmarks": {benchmark: {}}}
    (dst / "profiles.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return dst


def set_model(config: Path, name: str, cfg: dict[str, Any]) -> None:
    m = yaml.safe_load((config / "models.yaml").read_text())
    m["models"][name] = cfg
    (config / "models.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


# ----------------------------------------------------------------------------------------------- fake engine

SKILL = {"fake-a": 0.85, "fake-b": 0.55, "fake-c": 0.3}


class FakeEngine:
    """Deterministic stand-in for a language model: knows the gold option of each question and picks it with
    the model's skill; log-likelihoods depend only on (model version, context), so the cache behaves as with a
    real model. Negative log-probabilities, as the predictions contract requires."""

    def __init__(self, resolved, knowledge: dict[str, int]):
        self.resolved = resolved
        self.knowledge = knowledge
        self.skill = SKILL.get(resolved.name, 0.5)

    def provenance(self) -> dict[str, Any]:
        return {
            "device": "cpu",
            "dtype": "float32",
            "attn_implementation": "eager",
            "token_budget": 0,
            "library_versions": {"fake-engine": "1"},
        }

    def score(self, requests):
        from benchtrust.hashing import hash_obj
        from benchtrust.inference.types import OptionScore

        out = []
        for req in requests:
            context, conts = req[0], list(req[1])
            gold = next((g for q, g in self.knowledge.items() if q in context), None)
            rng = np.random.default_rng(int(hash_obj([self.resolved.model_version, context]), 16) % 2**32)
            lps = -np.abs(rng.normal(2.0, 0.8, len(conts))) - 0.05
            if gold is not None and gold < len(conts) and rng.random() < self.skill:
                lps[gold] = -abs(rng.normal(0.2, 0.1)) - 0.01
            best = int(np.argmax(lps))
            out.append([_option(OptionScore, float(x), j == best) for j, x in enumerate(lps)])
        return out

    def generate(self, prompt, **kw):  # generation benchmarks are not used with the fake engine
        return "pass"


def _option(cls, logprob: float, is_best: bool):
    """An engine's option score, whatever optional fields the engine's dataclass has grown."""
    import dataclasses

    kw: dict[str, Any] = {"logprob": logprob, "token_logprobs": [logprob]}
    for f in dataclasses.fields(cls):
        if f.name not in kw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kw[f.name] = is_best if f.type in (bool, "bool") else None
    return cls(**kw)


def fake_build_engine(items_file: Path):
    def knowledge() -> dict[str, int]:
        return {
            json.loads(line)["question"]: json.loads(line)["answer"]
            for line in items_file.read_text().splitlines()
            if line.strip()
        }

    def build(resolved, numeric=None):
        return FakeEngine(resolved, knowledge())

    return build


# -------------------------------------------------------------------------------------------- environment


class Env:
    """Set environment variables for a block and restore them (and the paths benchtrust derives and exports from
    them) afterwards."""

    def __init__(self, **values: str):
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self):
        for k in set(ENV_KEYS) | set(self.values):
            self.saved[k] = os.environ.get(k)
        for k, v in self.values.items():
            os.environ[k] = v
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_request(defs, instance, job_name: str, request, profile: str):
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=dict(request.tags),
        raise_on_error=True,
    )


def run_job(defs, instance, job_name: str, profile: str, partition_key=None, tags: dict | None = None):
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        tags=tags or {},
        run_config={"resources": {"benchtrust": {"config": {"profile": profile}}}},
        raise_on_error=True,
    )


def latest_metadata(instance, key: str, partition=None) -> dict[str, Any]:
    import dagster as dg

    flt = dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition] if partition else None)
    rec = instance.fetch_materializations(flt, limit=1).records[0]
    return {k: v.value for k, v in rec.asset_materialization.metadata.items()}


def sensor_tick(sensor, instance, cursor: str | None, profile: str):
    import dagster as dg

    from pipelines.resources import BenchtrustResource

    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"benchtrust": BenchtrustResource(profile=profile)}
    )
    return sensor(ctx)


# --------------------------------------------------------------------------------------- the versioned home


@dataclass
class VersionedHome:
    root: Path
    home: Path
    config: Path
    items_file: Path
    edited_item: str
    ticks: dict[str, Any] = field(default_factory=dict)
    automation: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "benchtrust.duckdb"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    def report_json(self, model: str, version: str) -> dict[str, Any]:
        return json.loads((self.reports / model / "tinyq" / version / "report.json").read_text())

    def query(self, sql: str, params: list | None = None):
        import duckdb

        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).df()
        finally:
            con.close()


@cache
def versioned_home() -> VersionedHome:
    """Three fake models on a 40-item benchmark: version 1 of every report; then one edited item picked up by the
    dataset sensor (version 2 of every model) and a new revision of fake-b picked up by the model sensor (its
    version 3), rendered by one more reports run."""
    import dagster as dg

    import benchtrust.inference.models as models_mod

    root = Path(tempfile.mkdtemp(prefix="bt-versioned-"))
    atexit.register(shutil.rmtree, root, True)
    items_file = root / "data" / "tinyq.jsonl"
    items_file.parent.mkdir(parents=True)
    write_items(items_file, 40)
    fakes = {
        m: {"description": f"fake model {m}", "source": {"type": "hf", "id": f"fake/{m}", "revision": "r1"}}
        for m in SKILL
    }
    config = write_config(root / "config", items_file, fakes, list(SKILL))
    home = root / "bt_home"
    (home / "dagster_home").mkdir(parents=True)
    vh = VersionedHome(root, home, config, items_file, edited_item="q03")
    real_build = models_mod.build_engine
    models_mod.build_engine = fake_build_engine(items_file)
    try:
        with Env(
            BENCHTRUST_HOME=str(home),
            BENCHTRUST_CONFIG=str(config),
            DAGSTER_HOME=str(home / "dagster_home"),
            BENCHTRUST_PROFILE="tiny",
        ):
            from benchtrust.settings import get_settings

            get_settings().ensure()
            from pipelines.definitions import defs
            from pipelines.run import get_instance, run_profile
            from sensors.changes import dataset_change_sensor, model_change_sensor

            use_in_memory_launcher(home / "dagster_home")
            instance = get_instance()
            summary = run_profile("tiny", instance=instance, log=lambda m: None)
            assert summary.ok, summary.runs
            # baseline ticks: nothing is stale
            vh.ticks["dataset_0"] = d0 = sensor_tick(dataset_change_sensor, instance, None, "tiny")
            vh.ticks["model_0"] = m0 = sensor_tick(model_change_sensor, instance, None, "tiny")
            a0 = dg.evaluate_automation_conditions(defs=defs, instance=instance)
            vh.automation["after_profile_run"] = a0

            # 1. the dataset changes: one item's text (and so its hash) is edited
            write_items(items_file, 40, edits={3: "Question 03, edited: which option is the right one?"})
            vh.ticks["dataset_1"] = d1 = sensor_tick(dataset_change_sensor, instance, d0.cursor, "tiny")
            vh.ticks["dataset_2"] = sensor_tick(dataset_change_sensor, instance, d1.cursor, "tiny")
            for req in d1.run_requests:
                run_request(defs, instance, "items_job", req, "tiny")
            a1 = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=a0.cursor)
            vh.automation["after_items_run"] = a1
            for pk in sorted(a1.get_requested_partitions(dg.AssetKey("predictions")), key=str):
                run_job(
                    defs,
                    instance,
                    "predictions_job",
                    "tiny",
                    partition_key=pk,
                    tags={"benchtrust/trigger": "automation"},
                )
                vh.metadata[f"predictions {pk}"] = latest_metadata(instance, "predictions", pk)
            a2 = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=a1.cursor)
            vh.automation["after_predictions"] = a2
            vh.ticks["dataset_3"] = sensor_tick(dataset_change_sensor, instance, d1.cursor, "tiny")

            # 2. the model changes: fake-b gets a new revision (before the warehouse is rebuilt, so one dbt build
            #    makes two new versions of fake-b and the reports asset renders both, oldest first)
            set_model(
                config,
                "fake-b",
                {
                    "description": "fake model fake-b, retrained",
                    "source": {"type": "hf", "id": "fake/fake-b", "revision": "r2"},
                },
            )
            vh.ticks["model_1"] = m1 = sensor_tick(model_change_sensor, instance, m0.cursor, "tiny")
            vh.ticks["model_2"] = sensor_tick(model_change_sensor, instance, m1.cursor, "tiny")
            for req in m1.run_requests:
                run_request(defs, instance, "predictions_job", req, "tiny")
            res = run_job(defs, instance, "reports_job", "tiny", tags={"benchtrust/trigger": "automation"})
            vh.metadata["reports"] = latest_metadata(instance, "reliability_reports")
            vh.checks = {
                e.event_specific_data.check_name: e.event_specific_data.passed
                for e in res.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION"
                and e.event_specific_data.asset_key == dg.AssetKey("reliability_reports")
            }
    finally:
        models_mod.build_engine = real_build
    return vh


# --------------------------------------------------------------------------------------------------- chromium


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    """Headless Chromium in its own process group (killed on timeout), with a throw-away profile."""
    binary = chromium_binary()
    assert binary, "chromium is not installed"
    profile = tempfile.mkdtemp(prefix="bt-chromium-")
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--mute-audio",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal

        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def dump_dom(url: str, budget_ms: int = 20000, size: str = "1400,1000") -> str:
    res = chromium([f"--virtual-time-budget={budget_ms}", f"--window-size={size}", "--dump-dom", url])
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def screenshot(url: str, path: Path, budget_ms: int = 20000, size: str = "1400,1000") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    res = chromium([f"--virtual-time-budget={budget_ms}", f"--window-size={size}", f"--screenshot={path}", url])
    assert res.returncode == 0 and path.exists() and path.stat().st_size > 1000, res.stderr[-2000:]
    return path


def python() -> str:
    return sys.executable
