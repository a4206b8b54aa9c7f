"""Code versions stamped into every report's provenance."""

from __future__ import annotations

import subprocess
from functools import cache
from importlib import metadata
from typing import Any

import yaml

from benchtrust.settings import DBT_PROJECT_DIR, PROJECT_ROOT

# bumped when the report's layout or numbers change meaning (the benchmark index version includes it)
REPORT_FORMAT = "2"


@cache
def code_versions() -> dict[str, Any]:
    """benchtrust's package version, the dbt project's ``benchtrust_code_version`` (part of every report
    version hash), the report format and, when the code runs from a git checkout, the commit."""
    out: dict[str, Any] = {"report_format": REPORT_FORMAT}
    try:
        out["benchtrust"] = metadata.version("benchtrust")
    except metadata.PackageNotFoundError:
        out["benchtrust"] = None
    try:
        cfg = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
        out["dbt_code_version"] = (cfg.get("vars") or {}).get("benchtrust_code_version")
    except (OSError, yaml.YAMLError):
        out["dbt_code_version"] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            )
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out
