"""Imported predictions (``benchtrust import``): the contract of the documented table layout.

The layout (``benchtrust/importers/table.py`` documents it for users): one row per prediction with
``model``, ``item_id`` (or the item text ``input``) and ``prediction``; optional ``correct``, ``score``,
``p_correct``, ``seed``, ``permutation_seed``, ``template``, ``run``, ``model_version``, ``decoding`` and
more. Column names match case-insensitively, with the same aliases (``id``, ``question``, ``answer``,
``is_correct``, ``fewshot_seed``, ``template_id``, ``sample_idx`` / ``sample``, ``target``). Tables read as
text (CSV with ``dtype=str``) and typed tables (Parquet, JSON Lines) are both accepted: an empty string is
a missing value, ``correct`` may be true/false, 1/0, yes/no.

:func:`validate_imported_predictions` resolves the aliases and runs the ``imported_predictions`` suite,
so a file that would import wrongly is stopped at the border with the expectation, the row count and
examples — before any canonical prediction row is built.
"""

from __future__ import annotations

import pandas as pd

from benchtrust.importers.table import ALIASES as IMPORT_ALIASES

# one definition of the layout: the importer's (the contract checks what the importer will read)
from data_contracts.runner import ContractResult, validate


def canonical_import_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rename the layout's aliases (case-insensitive) to the canonical names; other columns stay."""
    lower = {str(c).lower().strip(): c for c in df.columns}
    rename = {}
    for canon, names in IMPORT_ALIASES.items():
        for n in names:
            if n in lower and lower[n] not in rename:
                rename[lower[n]] = canon
                break
    return df.rename(columns=rename)


def validate_imported_predictions(df: pd.DataFrame, items: pd.DataFrame | None = None) -> ContractResult:
    """The ``imported_predictions`` suite on a raw import table; ``items`` adds the orphan check."""
    return validate(canonical_import_columns(df), "imported_predictions", items=items)
