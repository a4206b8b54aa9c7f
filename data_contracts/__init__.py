"""Data contracts for every border: great-expectations 1.x suites (as reviewed code), a runner that turns a
validation into a plain result the Dagster asset checks report, and the row-level quarantine rules
(``benchtrust.items``) that keep good rows flowing while bad ones are set aside with a reason."""

from data_contracts.runner import ContractResult, validate
from data_contracts.suites import SUITES, suite_version

__all__ = ["ContractResult", "validate", "SUITES", "suite_version"]
