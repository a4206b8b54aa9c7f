"""Expectation suites, kept as code so that a change is reviewed and versioned (``suite_version``).

Each suite is a list of ``(expectation class name, kwargs, severity)``. ``error`` expectations guard what
would make downstream results wrong (schema, keys, ranges, orphans) and block downstream assets; ``warn``
ones flag data that makes results noisier (a non-blocking check in Dagster).

Two conventions keep the suites declarative:

* **Derived columns** (``data_contracts.derive``) turn row properties GX cannot see directly (list cells,
  "gold among the choices", non-finite log-probabilities) into plain columns the suite checks. They are
  computed just before validation and never written anywhere.
* **Parameters**: a kwarg value ``{"$param": "name"}`` is filled in at validation time (the known models
  and model / dataset versions). Two derived columns also depend on a parameter: ``item_id_known``
  (``item_ids``: the orphan check) and ``quarantine_share`` (``n_quarantined``). An expectation whose
  parameter is not given is skipped and listed in ``ContractResult.skipped``. The suite version hashes the
  placeholders, not the values.

GX sees a list-valued column (``choices``, ``option_logprobs``) as the *length* of each list, so presence
and not-null expectations work on it; element checks go through derived columns.
"""

from __future__ import annotations

from typing import Any

from benchtrust.hashing import hash_obj
from benchtrust.items import LETTERS, MAX_CHOICE_CHARS, MAX_INPUT_CHARS

# log-softmax of float32 logits can round to a hair above 0; the row rules use the same tolerance
LOGPROB_TOLERANCE = 1e-6
PROBABILITY_TOLERANCE = 1e-9
# more than half of the input quarantined means the mapping (or the model run) is wrong, not the rows
MAX_QUARANTINE_SHARE = 0.5
MAX_DOC_CHARS = 5_000_000
BAD_TEXT_CHARS = r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # U+FFFD replacement, C0 controls but \t \n \r, DEL

ITEM_REQUIRED = [
    "benchmark",
    "dataset_version",
    "item_id",
    "item_hash",
    "task_type",
    "input",
    "choices",
    "gold",
    "gold_index",
    "source_file",
    "source_row",
]
PREDICTION_REQUIRED = [
    "cell_key",
    "model",
    "model_version",
    "benchmark",
    "dataset_version",
    "item_id",
    "task_type",
    "template_id",
    "decoding",
    "sample_idx",
]
# the grid coordinates a row shows; cell_key hashes these and more (few-shot example hashes, the numeric
# configuration as configured), so cell_key is the key and these only warn when two cells look alike
PREDICTION_CELL = [
    "model",
    "model_version",
    "benchmark",
    "dataset_version",
    "item_id",
    "template_id",
    "n_fewshot",
    "fewshot_seed",
    "permutation_seed",
    "decoding",
    "temperature",
    "top_p",
    "sample_idx",
    "dtype",
    "attn_implementation",
    "batch_tokens",
]
IMPORTED_REQUIRED = ["model", "prediction"]  # and item_id or input (checked through the derived item_ref)
CORPUS_REQUIRED = ["corpus", "corpus_version", "doc_id", "text"]

Spec = tuple[str, dict[str, Any], str]


def P(name: str) -> dict[str, str]:
    """A parameter placeholder, filled in by ``validate(..., params={name: ...})``."""
    return {"$param": name}


def _not_null(columns: list[str]) -> list[Spec]:
    return [("ExpectColumnValuesToNotBeNull", {"column": c}, "error") for c in columns]


SUITES: dict[str, list[Spec]] = {
    "benchmark_items": [
        ("ExpectTableColumnsToMatchSet", {"column_set": ITEM_REQUIRED, "exact_match": False}, "error"),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "error"),
        *_not_null(ITEM_REQUIRED),
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["dataset_version", "item_id"]}, "error"),
        (
            "ExpectColumnValuesToBeInSet",
            {"column": "task_type", "value_set": ["multiple_choice", "generation"]},
            "error",
        ),
        (
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "input", "min_value": 1, "max_value": MAX_INPUT_CHARS},
            "error",
        ),
        ("ExpectColumnValuesToNotMatchRegex", {"column": "input", "regex": r"^\s*$"}, "error"),
        ("ExpectColumnValuesToNotMatchRegex", {"column": "input", "regex": BAD_TEXT_CHARS}, "error"),
        # derived (data_contracts.derive): multiple-choice rows only / every row
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "mc_choice_count", "min_value": 2, "max_value": len(LETTERS)},
            "error",
        ),
        ("ExpectColumnValuesToBeInSet", {"column": "gold_in_choices", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeBetween", {"column": "longest_choice_chars", "max_value": MAX_CHOICE_CHARS}, "error"),
        ("ExpectColumnValuesToNotMatchRegex", {"column": "choices_text", "regex": BAD_TEXT_CHARS}, "error"),
        ("ExpectColumnMaxToBeBetween", {"column": "quarantine_share", "max_value": MAX_QUARANTINE_SHARE}, "error"),
        # noisier, not wrong: duplicate choice text (9 real MMLU questions), many duplicate questions
        ("ExpectColumnValuesToBeInSet", {"column": "has_duplicate_choices", "value_set": [False]}, "warn"),
        ("ExpectColumnValuesToBeInSet", {"column": "is_duplicate", "value_set": [False], "mostly": 0.95}, "warn"),
    ],
    "predictions": [
        ("ExpectTableColumnsToMatchSet", {"column_set": PREDICTION_REQUIRED, "exact_match": False}, "error"),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "error"),
        *_not_null(PREDICTION_REQUIRED),
        ("ExpectColumnValuesToBeUnique", {"column": "cell_key"}, "error"),  # one row per grid cell
        (
            "ExpectColumnValuesToBeInSet",
            {"column": "task_type", "value_set": ["multiple_choice", "generation"]},
            "error",
        ),
        (
            "ExpectColumnValuesToBeInSet",
            {"column": "decoding", "value_set": ["loglikelihood", "greedy", "sample"]},
            "error",
        ),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "p_correct", "min_value": -PROBABILITY_TOLERANCE, "max_value": 1.0 + PROBABILITY_TOLERANCE},
            "error",
        ),
        ("ExpectColumnValuesToBeBetween", {"column": "logprob_gold", "max_value": LOGPROB_TOLERANCE}, "error"),
        # derived: the largest option log-probability; multiple-choice scores present and finite
        ("ExpectColumnValuesToBeBetween", {"column": "max_option_logprob", "max_value": LOGPROB_TOLERANCE}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "scores_finite", "value_set": [True]}, "error"),
        # known versions and no orphans (filled in by the asset from the registry and the items table)
        ("ExpectColumnValuesToBeInSet", {"column": "model", "value_set": P("models")}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "model_version", "value_set": P("model_versions")}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "dataset_version", "value_set": P("dataset_versions")}, "error"),
        # derived from the parameter item_ids (the items table): no orphan predictions
        ("ExpectColumnValuesToBeInSet", {"column": "item_id_known", "value_set": [True]}, "error"),
        ("ExpectColumnMaxToBeBetween", {"column": "quarantine_share", "max_value": MAX_QUARANTINE_SHARE}, "error"),
        # two cells whose visible coordinates coincide cannot be told apart by a reader grouping on them
        ("ExpectCompoundColumnsToBeUnique", {"column_list": PREDICTION_CELL}, "warn"),
        # Many empty generations make a generation score noisier, not wrong: warn above 20 %.
        ("ExpectColumnValuesToBeBetween", {"column": "generation_chars", "min_value": 1, "mostly": 0.8}, "warn"),
    ],
    # The documented import layout (`benchtrust import`, data_contracts.imported): model, item_id (or input),
    # prediction; optional correct, score, p_correct, seed, permutation_seed, template, run, decoding, ...
    "imported_predictions": [
        ("ExpectTableColumnsToMatchSet", {"column_set": IMPORTED_REQUIRED, "exact_match": False}, "error"),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "error"),
        ("ExpectColumnValuesToNotBeNull", {"column": "model"}, "error"),
        ("ExpectColumnValuesToNotMatchRegex", {"column": "model", "regex": r"^\s*$"}, "error"),
        # derived: item_id, else the item text (input); null when the row has neither
        ("ExpectColumnValuesToNotBeNull", {"column": "item_ref"}, "error"),
        # derived: model | model_version | item | template | seed | permutation_seed | run — one row per cell
        ("ExpectColumnValuesToBeUnique", {"column": "import_cell"}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "correct_is_boolean", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "score_is_finite_number", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "p_correct_in_unit_interval", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "seed_is_natural_number", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "permutation_seed_is_natural_number", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "run_is_natural_number", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "decoding_is_known", "value_set": [True]}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "item_id_known", "value_set": [True]}, "error"),
        # a missing answer is an invalid answer (scored wrong), not a broken file: warn when common
        ("ExpectColumnValuesToBeInSet", {"column": "prediction_given", "value_set": [True], "mostly": 0.8}, "warn"),
    ],
    "corpus_docs": [
        ("ExpectTableColumnsToMatchSet", {"column_set": CORPUS_REQUIRED, "exact_match": False}, "error"),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "error"),
        *_not_null(CORPUS_REQUIRED),
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["corpus", "corpus_version", "doc_id"]}, "error"),
        (
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "text", "min_value": 1, "max_value": MAX_DOC_CHARS},
            "error",
        ),
        ("ExpectColumnValuesToNotMatchRegex", {"column": "text", "regex": r"^\s*$"}, "error"),
        # scraped text with mojibake still carries n-grams; it makes contamination evidence noisier
        ("ExpectColumnValuesToNotMatchRegex", {"column": "text", "regex": BAD_TEXT_CHARS, "mostly": 0.99}, "warn"),
    ],
}

# the column the check results name rows by (examples of failing rows)
ID_COLUMNS: dict[str, list[str]] = {
    "benchmark_items": ["item_id"],
    "predictions": ["item_id", "template_id"],
    "imported_predictions": ["model", "item_ref"],
    "corpus_docs": ["doc_id"],
}


def suite_version(name: str) -> str:
    return hash_obj(SUITES[name], 12)
