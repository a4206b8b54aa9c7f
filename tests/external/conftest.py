"""Fixtures of the external-data validation tests.

The data sets live beside the repository, in ``<repo>/../shared/external-data`` (copies of public
evaluation outputs; see that folder's README for sources and licences).  They are never copied into the
repository; every test that needs one skips with a clear message when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = REPO.parent / "shared" / "external-data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    """Overrides the repository-wide autouse ``dbt parse``: these tests touch neither dbt nor Dagster."""
    return None


def external_path(relative: str) -> Path:
    p = EXTERNAL / relative
    if not p.exists():
        pytest.skip(f"external data {p} is absent (expected in ../shared/external-data beside the repository)")
    return p


@pytest.fixture(scope="session")
def external():
    """``external("helm_mmlu/...")`` → the path, or skip the test with a clear message when absent."""
    return external_path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def helm_import():
    """The 10-model HELM MMLU matrix through the HELM importer (aryopg/mmlu-redux, CC-BY-4.0)."""
    from benchtrust.importers import import_predictions

    return import_predictions("helm", external_path("helm_mmlu/helm_10models_mmlu_item_matrix.csv"))


@pytest.fixture(scope="session")
def stability_import():
    """The two complete experiments of breckbaldwin/llm-stability (Apache-2.0) through the importer."""
    from benchtrust.importers import import_predictions

    external_path("llm_stability/runs_item_level.csv")
    return import_predictions(
        "llm-stability", EXTERNAL / "llm_stability", experiment=["strict_json_schema", "fine_tuned"]
    )
