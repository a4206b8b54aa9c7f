"""Benchmarks and models are dynamic partitions: added when a profile, the CLI or a sensor sees them."""

import warnings

import dagster as dg

benchmarks_partitions = dg.DynamicPartitionsDefinition(name="benchmarks")
models_partitions = dg.DynamicPartitionsDefinition(name="models")
predictions_partitions = dg.MultiPartitionsDefinition({"benchmark": benchmarks_partitions, "model": models_partitions})

# predictions[benchmark=b, model=m] reads benchmark_items[b]. The mapping is marked beta in Dagster 1.13; we rely on
# it knowingly, and its warning would otherwise be printed on every command line start.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    items_to_predictions = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="benchmark")
