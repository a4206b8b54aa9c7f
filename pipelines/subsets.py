"""Backfill targets over an asset graph: a profile's partitions, unpartitioned assets by key, the warehouse.

Every function takes the asset graph as an argument, so this module imports neither the Definitions nor the
sensors: the scheduled refreshes (:mod:`sensors.schedules`) pass their repository's graph, and
:mod:`pipelines.run` passes the graph of :mod:`pipelines.definitions` (which imports the sensors — reading it from
here would close an import circle, issue 13).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BulkActionStatus

WAREHOUSE_GROUPS = ("staging", "intermediate", "marts", "reports")
TERMINAL_BACKFILL = {
    BulkActionStatus.COMPLETED,
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
}


def profile_subset(benchmarks: Iterable[str], models: Iterable[str], graph: Any) -> AssetGraphSubset:
    """``benchmark_items`` / ``item_quarantine`` per benchmark and ``predictions`` per benchmark × model."""
    benchmarks, models = list(benchmarks), list(models)
    keys = {AssetKeyPartitionKey(dg.AssetKey(a), b) for a in ("benchmark_items", "item_quarantine") for b in benchmarks}
    keys |= {
        AssetKeyPartitionKey(dg.AssetKey("predictions"), dg.MultiPartitionKey({"benchmark": b, "model": m}))
        for b in benchmarks
        for m in models
    }
    return AssetGraphSubset.from_asset_partition_set(keys, graph)


def asset_subset(keys: Iterable[dg.AssetKey], graph: Any) -> AssetGraphSubset:
    """Unpartitioned assets by key (e.g. ``imported_predictions``) as a backfill target."""
    return AssetGraphSubset.from_asset_keys(set(keys), graph)


def warehouse_subset(graph: Any) -> AssetGraphSubset:
    """Every dbt model and the reports."""
    return asset_subset(
        {
            k
            for k in graph.get_all_asset_keys()
            if graph.get(k).group_name in WAREHOUSE_GROUPS and graph.get(k).partitions_def is None
        },
        graph,
    )
