"""Turn a data-contract result into a Dagster asset-check result the UI shows next to its asset."""

from __future__ import annotations

import dagster as dg

from data_contracts import ContractResult


def contract_check_result(check_name: str, asset_key: str, result: ContractResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR if result.failures else dg.AssetCheckSeverity.WARN,
        description=result.summary(),
        metadata={
            "suite": result.suite,
            "suite_version": result.version,
            "rows_checked": result.n_rows,
            "failures": dg.MetadataValue.json(result.failures),
            "warnings": dg.MetadataValue.json(result.warnings),
        },
    )
