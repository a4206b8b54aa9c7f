"""The shipped scale-out configurations (deploy/) validate against the schemas of the Dagster packages that read
them. The PostgreSQL + Celery route also runs for real (test_celery_postgres.py); the Kubernetes route cannot run
here (no cluster), so this is what is checked of it: the instance YAML against Dagster's instance schema and the
K8sRunLauncher's config schema, the executor YAML against k8s_job_executor's schema, and the GPU request that
inference steps carry."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

REPO = Path(__file__).resolve().parents[2]
PG_ENV = {
    "BENCHTRUST_PG_HOST": "db",
    "BENCHTRUST_PG_PORT": "5432",
    "BENCHTRUST_PG_USER": "u",
    "BENCHTRUST_PG_PASSWORD": "p",
    "BENCHTRUST_PG_DB": "dagster",
    "BENCHTRUST_IMAGE": "benchtrust:latest",
}


@pytest.mark.parametrize("path", ["deploy/dagster.yaml", "deploy/k8s/dagster.yaml"])
def test_instance_configs_validate(path, tmp_path, monkeypatch):
    for k, v in PG_ENV.items():
        monkeypatch.setenv(k, v)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / path).read_text())
    cfg, custom = dagster_instance_config(str(home))  # raises on a schema error
    assert custom is None
    assert cfg["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "BENCHTRUST_PG_HOST"}
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"
    if "run_launcher" in cfg:
        from dagster_k8s import K8sRunLauncher

        launcher = cfg["run_launcher"]
        assert launcher["class"] == "K8sRunLauncher"
        res = process_config(K8sRunLauncher.config_type(), launcher["config"])
        assert res.success, res.errors
        assert res.value["volume_mounts"][0]["mountPath"] == "/data"


def test_celery_executor_config_validates(monkeypatch):
    from dagster_celery import celery_executor

    monkeypatch.setenv("BENCHTRUST_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("BENCHTRUST_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
    raw = yaml.safe_load((REPO / "deploy" / "celery" / "executor.yaml").read_text())
    res = process_config(celery_executor.config_schema.config_type, raw["execution"]["config"])
    assert res.success, res.errors
    src = raw["execution"]["config"]["config_source"]
    assert src["task_acks_late"] is True and src["task_reject_on_worker_lost"] is True


def test_k8s_executor_config_validates():
    from dagster_k8s import k8s_job_executor

    raw = yaml.safe_load((REPO / "deploy" / "k8s" / "executor.yaml").read_text())
    res = process_config(k8s_job_executor.config_schema.config_type, raw["execution"]["config"])
    assert res.success, res.errors


def test_inference_steps_ask_for_a_gpu_and_the_gpu_queue(monkeypatch):
    """The op tags that route inference: dagster-celery's queue tag and dagster-k8s's per-step container config,
    the latter parsed by dagster-k8s itself."""
    from dagster_k8s.job import get_user_defined_k8s_config

    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("predictions"))
    assert node.pools == {"inference"}
    op_tags = defs.resolve_assets_def(dg.AssetKey("predictions")).op.tags
    assert op_tags["dagster-celery/queue"] == "gpu"
    user = get_user_defined_k8s_config(op_tags)
    assert user.container_config["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for key in (dg.AssetKey(["marts", "predictions"]), dg.AssetKey("reliability_reports")):
        assert graph.get(key).pools == {"warehouse"}


def test_executor_is_chosen_by_configuration(monkeypatch, tmp_path):
    from pipelines.executors import default_executor

    monkeypatch.delenv("BENCHTRUST_EXECUTOR", raising=False)
    assert default_executor().name == "in_process"
    monkeypatch.setenv("BENCHTRUST_EXECUTOR", "multiprocess")
    assert default_executor().name == "multiprocess"
    monkeypatch.setenv("BENCHTRUST_EXECUTOR", "celery")
    monkeypatch.setenv("BENCHTRUST_CELERY_CONFIG", str(REPO / "deploy" / "celery" / "executor.yaml"))
    assert default_executor().name == "celery"
    monkeypatch.setenv("BENCHTRUST_EXECUTOR", "k8s")
    monkeypatch.setenv("BENCHTRUST_K8S_CONFIG", str(REPO / "deploy" / "k8s" / "executor.yaml"))
    assert default_executor().name == "k8s"
    monkeypatch.setenv("BENCHTRUST_EXECUTOR", "slurm")
    with pytest.raises(ValueError, match="in_process, multiprocess, celery, k8s"):
        default_executor()
