"""The dbt project, prepared once (``dbt parse`` if the manifest is missing), and the translator that owns
dbt → Dagster asset keys, groups, kinds and automation conditions."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from benchtrust.settings import DBT_PROJECT_DIR, get_settings

# dbt lives next to this interpreter (the project's venv); make it findable however Dagster was started
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


@cache
def dbt_project() -> DbtProject:
    get_settings().export_env()
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        # a fresh clone: parse now rather than fail to load (the set-up also runs `dbt parse`)
        project.preparer.prepare(project)
    return project


class _DbtCli(DbtCliResource):
    """dagster-dbt asks the dbt executable for its version (``dbt --version``, a 1.6 s CPU subprocess) once per
    run; it is the dbt-core installed beside dagster-dbt in this environment, already imported with it."""

    @cached_property
    def _cli_version(self) -> Any:
        from dbt.version import __version__
        from packaging import version

        return version.parse(__version__)


# dbt writes a debug-level dbt.log into every build's target folder by default: 5.9 MB for a six-item profile and
# about a tenth of the build's CPU. At info level the file holds what dbt prints (0.5 MB); the structured events
# Dagster reads come from stdout either way. `dbt build --log-level-file debug` by hand when a node needs tracing.
DBT_GLOBAL_FLAGS = ["--log-level-file", "info"]


def dbt_resource() -> DbtCliResource:
    return _DbtCli(project_dir=dbt_project(), global_config_flags=DBT_GLOBAL_FLAGS)


# the dbt assets' op name; dagster-dbt names each build's target folder after it
DBT_ASSETS_NAME = "benchtrust_dbt_models"

# dagster-dbt gives every build its own target folder (<op>-<run id>-<random>: manifest, run results, compiled SQL,
# dbt.log; 4-10 MB each) and never removes one, so a refreshing deployment filled its disk one build at a time
KEEP_BUILD_FOLDERS = 20
BUILD_FOLDER_MIN_AGE_S = 6 * 3600.0


def prune_build_folders(
    target: Path, keep: int = KEEP_BUILD_FOLDERS, min_age_s: float = BUILD_FOLDER_MIN_AGE_S
) -> list[Path]:
    """Remove the build folders under ``target`` beyond the newest ``keep`` that are older than ``min_age_s``
    (by their last change). The age rule keeps any build still writing, whichever data folder it serves (they
    share the project's target folder); the count keeps the recent builds' run results for a look after a failure.
    Returns what was removed."""
    if not target.is_dir():
        return []
    folders = []
    for p in target.iterdir():
        if p.is_dir() and not p.is_symlink() and p.name.startswith(f"{DBT_ASSETS_NAME}-"):
            try:
                folders.append((p.stat().st_mtime, p))
            except OSError:  # removed meanwhile by another build's pruning
                continue
    folders.sort(reverse=True)
    now = time.time()
    removed = []
    for mtime, p in folders[keep:]:
        if now - mtime >= min_age_s:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


class BenchtrustDbtTranslator(DagsterDbtTranslator):
    """staging/intermediate/marts models become ``<layer>/<model>`` keys in groups of the same name; sources
    point back at the Python assets through ``meta.dagster.asset_key``; every model rebuilds after its
    upstream updated (:func:`sensors.automation.warehouse_condition`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["config"].get("schema") or "main", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["config"].get("schema") or "dbt"
        return super().get_group_name(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] == "model":
            from sensors.automation import warehouse_condition

            return warehouse_condition()
        return super().get_automation_condition(dbt_resource_props)


TRANSLATOR = BenchtrustDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
