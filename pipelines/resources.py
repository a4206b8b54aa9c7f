"""Resources. Paths come from the environment (``BENCHTRUST_HOME``), the same variables dbt's profiles.yml
reads, so Dagster, dbt, the CLI and the tests agree on one warehouse."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import PrivateAttr

from benchtrust.registry import Registry
from benchtrust.settings import Settings, get_settings

SCHEDULED_PROFILE_TAG = "benchtrust/scheduled_profile"  # set by the scheduled refreshes (sensors.schedules)


class BenchtrustResource(dg.ConfigurableResource):
    """Which run profile to use, and where the data and registries live."""

    profile: str = "default"
    _run_profile: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # a scheduled refresh is a backfill requested by a sensor, which carries tags but no run config
        run = context.dagster_run
        self._run_profile = run.tags.get(SCHEDULED_PROFILE_TAG) if run is not None else None

    @property
    def active_profile(self) -> str:
        """The run's profile: a scheduled refresh's tag, else the configured ``profile``."""
        return self._run_profile or self.profile

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
