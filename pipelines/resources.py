"""Resources. Paths come from the environment (``BENCHTRUST_HOME``), the same variables dbt's profiles.yml
reads, so Dagster, dbt, the CLI and the tests agree on one warehouse."""

from __future__ import annotations

import os

import dagster as dg

from benchtrust.registry import Registry
from benchtrust.settings import Settings, get_settings


class BenchtrustResource(dg.ConfigurableResource):
    """Which run profile to use, and where the data and registries live."""

    profile: str = "default"

    def settings(self) -> Settings:
        return get_settings().ensure()

    def registry(self) -> Registry:
        return Registry.load(self.settings().config_dir)


def default_resources() -> dict:
    from pipelines.dbt_project import dbt_resource

    return {
        # the profile a run uses: BENCHTRUST_PROFILE when the code location loads; `benchtrust run` passes it
        # explicitly as run config, and the UI's launchpad can override it per run
        "benchtrust": BenchtrustResource(profile=os.environ.get("BENCHTRUST_PROFILE", "default")),
        "dbt": dbt_resource(),
    }
