"""Where things live. One place resolves every path from the environment, so the CLI, Dagster, dbt
and the tests agree.

``BENCHTRUST_HOME``   data root (default ``<project>/data``): lake, warehouse, reports, cache.
``BENCHTRUST_CONFIG`` registries folder (default ``<project>/config``).
``BENCHTRUST_LAKE`` / ``BENCHTRUST_WAREHOUSE`` are derived and exported for dbt's ``profiles.yml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    home: Path
    config_dir: Path

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "benchtrust.duckdb"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def ensure(self) -> Settings:
        for p in (self.lake, self.warehouse.parent, self.reports, self.cache):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def export_env(self) -> None:
        """Export the derived paths so that dbt (profiles.yml, sources.yml) reads the same folders."""
        os.environ["BENCHTRUST_HOME"] = str(self.home)
        os.environ["BENCHTRUST_LAKE"] = str(self.lake)
        os.environ["BENCHTRUST_WAREHOUSE"] = str(self.warehouse)


def get_settings() -> Settings:
    home = Path(os.environ.get("BENCHTRUST_HOME", PROJECT_ROOT / "data")).resolve()
    config_dir = Path(os.environ.get("BENCHTRUST_CONFIG", PROJECT_ROOT / "config")).resolve()
    s = Settings(home=home, config_dir=config_dir)
    s.export_env()
    return s
