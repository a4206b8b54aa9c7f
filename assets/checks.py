"""Turn a data-contract result into the Dagster asset-check results the UI shows next to its asset.

Each border has two checks: ``<name>_contract`` (blocking, ERROR) for the suite's ``error`` expectations —
schema, keys, ranges, orphans: downstream would be wrong — and ``<name>_quality`` (non-blocking, WARN) for
its ``warn`` expectations — data that makes results noisier. Both carry, as metadata, which expectations
failed, how many rows, examples (values and row ids), the suite version and the row-level quarantine count.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from data_contracts import ContractResult


def _entries_metadata(entries: list[dict[str, Any]]) -> dict[str, Any]:
    from data_contracts.runner import describe

    return {
        "failed_expectations": dg.MetadataValue.json([describe(f) for f in entries]),
        "unexpected_rows": sum(int(f.get("unexpected_count") or 0) for f in entries),
        "examples": dg.MetadataValue.json(
            {describe(f): f.get("example_rows") or f.get("examples") or f.get("observed") for f in entries}
        ),
    }


def contract_check_result(
    check_name: str,
    asset_key: str,
    result: ContractResult,
    quarantined: int | None = None,
    quarantine_path: str | None = None,
) -> dg.AssetCheckResult:
    """The blocking check: passes when no ``error`` expectation failed."""
    metadata: dict[str, Any] = {
        "suite": result.suite,
        "suite_version": result.version,
        "rows_checked": result.n_rows,
        "expectations": result.n_expectations,
        **_entries_metadata(result.failures),
        "failures": dg.MetadataValue.json(result.failures),
        "warnings": dg.MetadataValue.json(result.warnings),
        "skipped": dg.MetadataValue.json(result.skipped),
    }
    if quarantined is not None:
        metadata["quarantined_rows"] = quarantined
    if quarantine_path:
        metadata["quarantine_path"] = dg.MetadataValue.path(quarantine_path)
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.summary("errors"),
        metadata=metadata,
    )


def quality_check_result(check_name: str, asset_key: str, result: ContractResult) -> dg.AssetCheckResult:
    """The non-blocking check: passes when no ``warn`` expectation failed; a failure is a WARN."""
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=not result.warnings,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.summary("warnings"),
        metadata={
            "suite": result.suite,
            "suite_version": result.version,
            "rows_checked": result.n_rows,
            **_entries_metadata(result.warnings),
            "warnings": dg.MetadataValue.json(result.warnings),
        },
    )
