from functools import cache

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.dbt_project import DBT_ASSETS_NAME, TRANSLATOR, dbt_project, prune_build_folders
from pipelines.instance import WAREHOUSE_POOL


@cache
def build_dbt_assets() -> dg.AssetsDefinition:
    """All dbt models (staging → intermediate → marts) as assets; dbt tests as asset checks.
    Built lazily and once, so importing this module never parses the manifest by accident."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        name=DBT_ASSETS_NAME,
        pool=WAREHOUSE_POOL,
    )  # DuckDB: one writer, one build at a time
    def benchtrust_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        from benchtrust.dbt_vars import dbt_vars_args
        from benchtrust.lake import ensure_layout
        from benchtrust.names_migration import upgrade_names
        from benchtrust.settings import get_settings

        settings = get_settings().ensure()
        upgrade_names(settings.lake)  # once: folders of the old, non-injective name rule move to their new names
        ensure_layout(settings.lake)
        # the settings-derived vars (n-gram sizes, embedding width) on every build: the SQL has no copy of them.
        # dbt's unit tests check the SQL's logic on fixed inputs, not the data: they belong to CI (`make test` runs
        # them with a full `dbt build`, tests/integration/test_dbt_build.py), not to every refresh, as dbt advises
        # for production builds; on a small profile they were a quarter of the build's node time (9 of 35 s)
        args = ["build", "--exclude-resource-type", "unit_test", *dbt_vars_args(settings.config_dir)]
        invocation = dbt.cli(args, context=context)
        yield from invocation.stream()
        prune_build_folders(invocation.target_path.parent)

    return benchtrust_dbt_models.map_asset_specs(_after_imports)


# the lake sources an import writes to (predictions, and items when the source has them)
_IMPORTED_INTO = {dg.AssetKey("predictions"), dg.AssetKey("benchmark_items"), dg.AssetKey("item_quarantine")}


def _after_imports(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Staging models that read the lake also read what `benchtrust import` wrote there: the dependency shows that
    lineage in the UI. It does not order an import before the dbt step within one run (a spec's deps give the dbt
    op no input edge), which is why `benchtrust import` submits the import and the warehouse as two backfills."""
    if any(d.asset_key in _IMPORTED_INTO for d in spec.deps):
        return spec.merge_attributes(deps=[dg.AssetDep("imported_predictions")])
    return spec
