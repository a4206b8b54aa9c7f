"""Bring predictions made by other tools into benchtrust's canonical shapes.

Entry point (what ``benchtrust import FORMAT PATH`` calls)::

    result = import_predictions("helm", "helm_10models_mmlu_item_matrix.csv")
    result.predictions   # PREDICTION_COLUMNS + result.extra_columns
    result.items         # canonical items (ITEM_COLUMNS + extras) or None

Formats (``format`` is case-insensitive; ``_`` and ``-`` are interchangeable):

============================  ==============================================  ================================
format (aliases)              input                                           module
============================  ==============================================  ================================
``lm-eval`` (``lm-eval-       ``--log_samples`` JSONL file or output folder   :mod:`.lm_eval`
harness``, ``lmeval``)
``helm`` (``helm-matrix``)    HELM per-instance predictions, wide matrix CSV  :mod:`.helm`
``csv``, ``parquet``,         the documented table layout                     :mod:`.table`
``table``, ``jsonl``, ``tsv``
``llm-stability``             breckbaldwin/llm-stability repeated runs        :mod:`.llm_stability`
============================  ==============================================  ================================

Common options (keyword arguments, all optional): ``model`` (lm-eval), ``model_version``, ``benchmark``,
``dataset_version``; format-specific ones are documented on each importer function.  Unknown options are
ignored by an importer that has no use for them.

Rules shared by all importers: an answer that is not a valid option is an *invalid answer* — scored wrong,
kept as the prediction, ``predicted_index`` null — never an error; an item without a gold answer is
imported unscored (``is_correct`` null).  Whatever makes the input unusable raises
:class:`ImportFormatError` (a :class:`benchtrust.items.SourceError`) naming the file and the line or row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchtrust.importers._common import ImportFormatError, ImportResult, letter_answer
from benchtrust.importers.helm import import_helm_matrix
from benchtrust.importers.llm_stability import import_llm_stability
from benchtrust.importers.lm_eval import import_lm_eval
from benchtrust.importers.table import import_table

__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportResult",
    "import_helm_matrix",
    "import_llm_stability",
    "import_lm_eval",
    "import_predictions",
    "import_table",
    "letter_answer",
    "normalise_format",
]

FORMATS: dict[str, Callable[..., ImportResult]] = {
    "lm-eval": import_lm_eval,
    "helm": import_helm_matrix,
    "table": import_table,
    "llm-stability": import_llm_stability,
}
_ALIASES = {
    "lm-eval": "lm-eval",
    "lmeval": "lm-eval",
    "lm-eval-harness": "lm-eval",
    "lm-evaluation-harness": "lm-eval",
    "helm": "helm",
    "helm-matrix": "helm",
    "table": "table",
    "csv": "table",
    "tsv": "table",
    "parquet": "table",
    "jsonl": "table",
    "llm-stability": "llm-stability",
    "llmstability": "llm-stability",
}


def normalise_format(fmt: str) -> str:
    """Canonical format name for ``fmt`` (see the table in the module docstring).

    Raises:
        ValueError: unknown format, listing the known ones.
    """
    key = str(fmt).strip().lower().replace("_", "-")
    if key not in _ALIASES:
        raise ValueError(f"unknown import format {fmt!r}; known: {sorted(FORMATS)} (aliases: {sorted(_ALIASES)})")
    return _ALIASES[key]


def import_predictions(format: str, path: str | Path, **opts: Any) -> ImportResult:
    """Import predictions of another tool.

    Args:
        format: ``lm-eval``, ``helm``, ``csv``/``parquet``/``table``, or ``llm-stability`` (aliases above).
        path: file or folder to read.
        **opts: importer options (``model``, ``model_version``, ``benchmark``, ``dataset_version``, and the
            format-specific ones of :func:`import_lm_eval`, :func:`import_helm_matrix`,
            :func:`import_table`, :func:`import_llm_stability`).

    Returns:
        :class:`ImportResult` (``predictions``, ``items``, ``extra_columns``, ``files``, ``warnings``,
        ``meta``; ``canonical_predictions()`` and ``summary()``).

    Raises:
        ValueError: unknown format.
        ImportFormatError: the input cannot be imported (file and line/row named).
    """
    fn = FORMATS[normalise_format(format)]
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise ImportFormatError(str(p), "not_found", "no such file or folder")
    if not p.is_dir():  # a file: regular and within the size limit, before any importer opens it
        from benchtrust.readlimits import LimitError, check_file

        try:
            check_file(p)
        except LimitError as e:
            raise ImportFormatError(str(p), e.rule, e.detail) from None
    return fn(p, **opts)
