"""Resources. Paths come from the environment (``BENCHTRUST_HOME``), the same variables dbt's profiles.yml
reads, so Dagster, dbt, the CLI and the tests agree on one warehouse."""

from __future__ import annotations

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
        "benchtrust": BenchtrustResource(profile=dg.EnvVar("BENCHTRUST_PROFILE").get_value("default") or "default"),
        "dbt": dbt_resource(),
    }
