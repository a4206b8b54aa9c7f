"""Which executor runs the steps of a run — chosen by configuration (``BENCHTRUST_EXECUTOR``), never by code.

- ``in_process`` (default, the embedded path): a run's steps run in its run worker. Runs themselves go
  side by side through the run queue and its pools (:mod:`pipelines.instance`).
- ``multiprocess``: each step in its own process (Dagster's default executor).
- ``celery``: steps go to Celery workers on other machines (dagster-celery). Broker, backend and queues come
  from the YAML file named by ``BENCHTRUST_CELERY_CONFIG`` (see ``deploy/celery/``): inference steps carry the
  op tag ``dagster-celery/queue: gpu`` and land on the workers started with ``-q gpu``; all others on the
  default queue.
- ``k8s``: each step in its own Kubernetes job (dagster-k8s ``k8s_job_executor``); inference steps request a
  GPU through their ``dagster-k8s/config`` op tag. Needs the dagster-k8s package and a cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")


def executor_name() -> str:
    name = os.environ.get("BENCHTRUST_EXECUTOR", "in_process").strip().lower().replace("-", "_")
    if name not in EXECUTORS:
        raise ValueError(f"BENCHTRUST_EXECUTOR={name!r}: choose one of {', '.join(EXECUTORS)}")
    return name


def _celery_config() -> dict[str, Any]:
    path = os.environ.get("BENCHTRUST_CELERY_CONFIG")
    if not path:
        raise ValueError(
            "BENCHTRUST_EXECUTOR=celery needs BENCHTRUST_CELERY_CONFIG (a YAML file with broker, backend, "
            "config_source; see deploy/celery/executor.yaml)"
        )
    raw = yaml.safe_load(Path(path).read_text()) or {}
    # the same file starts the workers (`dagster-celery worker start -y`), which read it under execution.config
    cfg = (raw.get("execution") or {}).get("config") or raw
    return {k: v for k, v in cfg.items() if k in ("broker", "backend", "include", "config_source", "retries")}


def default_executor() -> dg.ExecutorDefinition:
    name = executor_name()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(_celery_config())
    from dagster_k8s import k8s_job_executor  # type: ignore[import-not-found]

    path = os.environ.get("BENCHTRUST_K8S_CONFIG")
    if path:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return k8s_job_executor.configured((raw.get("execution") or {}).get("config") or raw)
    return k8s_job_executor
