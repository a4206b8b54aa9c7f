"""Data contracts for every border: great-expectations 1.x suites (as reviewed code), a runner that turns a
validation into a plain result the Dagster asset checks report, and the row-level quarantine rules that keep
good rows flowing while bad ones are set aside with a reason (items: ``benchtrust.items``; predictions:
:func:`split_predictions`).

Borders and their suites (``SUITES``, versioned by ``suite_version``):
``benchmark_items`` (sources → items), ``predictions`` (inference → lake), ``imported_predictions``
(``benchtrust import``), ``corpus_docs`` (reference corpora → contamination audits).

Importing this package is cheap: great-expectations is imported on the first ``validate`` call.
"""

from data_contracts.corpus import validate_corpus_docs
from data_contracts.imported import canonical_import_columns, validate_imported_predictions
from data_contracts.predictions import PREDICTION_QUARANTINE_COLUMNS, find_orphans, split_predictions
from data_contracts.runner import ContractResult, validate
from data_contracts.suites import SUITES, suite_version

__all__ = [
    "PREDICTION_QUARANTINE_COLUMNS",
    "SUITES",
    "ContractResult",
    "canonical_import_columns",
    "find_orphans",
    "split_predictions",
    "suite_version",
    "validate",
    "validate_corpus_docs",
    "validate_imported_predictions",
]
