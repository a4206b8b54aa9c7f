import dagster as dg
import pandas as pd

from assets.checks import contract_check_result, quality_check_result
from benchtrust import lake
from benchtrust.items import SourceError
from benchtrust.sources import load_items
from pipelines.partitions import benchmarks_partitions
from pipelines.resources import BenchtrustResource


@dg.multi_asset(
    name="benchmark_items",
    partitions_def=benchmarks_partitions,
    group_name="ingestion",
    specs=[
        dg.AssetSpec("benchmark_items", kinds={"python", "parquet"},
                     description="Canonical items of one benchmark, hashed into a dataset_version."),
        dg.AssetSpec("item_quarantine", kinds={"parquet"},
                     description="Input records rejected by a row rule, with file, row, rule and value."),
    ],
    check_specs=[
        dg.AssetCheckSpec("items_contract", asset="benchmark_items", blocking=True,
                          description="great-expectations suite `benchmark_items` (error level): schema, unique ids, "
                                      "gold among the choices, choice counts, text lengths and encoding, quarantine share"),
        dg.AssetCheckSpec("items_quality", asset="benchmark_items", blocking=False,
                          description="great-expectations suite `benchmark_items` (warn level): duplicate choice text, "
                                      "share of duplicate questions"),
    ],
)
def benchmark_items(context: dg.AssetExecutionContext, benchtrust: BenchtrustResource):
    """Canonical items of one benchmark (partition), hashed into a `dataset_version`.

    Records that break a row rule go to the quarantine with file, row and rule; exact duplicates are kept and
    flagged. A failing contract keeps the file out of the lake and blocks the predictions downstream.
    """
    benchmark = context.partition_key
    settings = benchtrust.settings()
    source = benchtrust.registry().source(benchmark)
    try:
        norm = load_items(source, benchmark)
    except SourceError as e:
        raise dg.Failure(description=str(e), metadata={"file": e.file, "rule": e.rule, "row": e.row or -1}) from e

    from data_contracts import validate

    items = norm.items.assign(ingested_at=pd.Timestamp.now(tz="UTC"))
    result = validate(items, "benchmark_items", params={"n_quarantined": len(norm.quarantine)})
    qpath = lake.write_parquet(norm.quarantine, lake.quarantine_path(settings.lake, "items", benchmark, norm.dataset_version))
    if result.success:
        # the contract version that validated these rows travels with them, into the marts and the report
        path = lake.write_parquet(items.assign(contract_version=result.version),
                                  lake.items_path(settings.lake, benchmark, norm.dataset_version))
        lake.set_latest(settings.lake, benchmark, {
            "dataset_version": norm.dataset_version, "fingerprint": source.fingerprint(),
            "source": source.describe(), "contract_version": result.version, "n_items": len(items),
        })
    else:
        path = lake.write_parquet(items, lake.rejected_path(
            settings.lake, lake.items_path(settings.lake, benchmark, norm.dataset_version)))
        context.log.error(f"items contract failed for {benchmark}: {result.summary()}")
    rules = norm.quarantine["rule"].value_counts().to_dict() if len(norm.quarantine) else {}
    examples = norm.quarantine[["source_file", "source_row", "rule", "detail", "value"]].head(5).to_dict("records")
    yield dg.MaterializeResult(
        asset_key="item_quarantine",
        metadata={"dagster/row_count": len(norm.quarantine), "rules": dg.MetadataValue.json(rules),
                  "examples": dg.MetadataValue.json(examples), "path": dg.MetadataValue.path(str(qpath)),
                  "contract_version": result.version},
        data_version=dg.DataVersion(norm.dataset_version),
    )
    yield dg.MaterializeResult(
        asset_key="benchmark_items",
        metadata={
            "dataset_version": norm.dataset_version,
            "dagster/row_count": len(items),
            "quarantined": len(norm.quarantine),
            "quarantine_rules": dg.MetadataValue.json(rules),
            "duplicates_flagged": int(items["is_duplicate"].sum()),
            "subjects": int(items["subject"].nunique()),
            "path": dg.MetadataValue.path(str(path)),
            "quarantine_path": dg.MetadataValue.path(str(qpath)),
            "contract_version": result.version,
            "contract_passed": result.success,
        },
        data_version=dg.DataVersion(norm.dataset_version),
        check_results=[
            contract_check_result("items_contract", "benchmark_items", result, quarantined=len(norm.quarantine),
                                  quarantine_path=str(qpath)),
            quality_check_result("items_quality", "benchmark_items", result),
        ],
    )
