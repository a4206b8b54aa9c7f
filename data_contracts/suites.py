"""Expectation suites, kept as code so that a change is reviewed and versioned (``suite_version``).

Each suite is a list of (expectation class name, kwargs, severity). ``error`` expectations guard what would
make downstream results wrong (schema, keys, ranges) and block downstream assets; ``warn`` ones flag data
that makes results noisier.
"""

from __future__ import annotations

from typing import Any

from benchtrust.hashing import hash_obj

ITEM_REQUIRED = ["benchmark", "dataset_version", "item_id", "item_hash", "task_type", "input", "gold", "gold_index"]
PREDICTION_REQUIRED = ["cell_key", "model", "model_version", "benchmark", "dataset_version", "item_id",
                       "template_id", "decoding", "sample_idx"]

Spec = tuple[str, dict[str, Any], str]

SUITES: dict[str, list[Spec]] = {
    "benchmark_items": [
        ("ExpectTableColumnsToMatchSet", {"column_set": ITEM_REQUIRED, "exact_match": False}, "error"),
        *[("ExpectColumnValuesToNotBeNull", {"column": c}, "error") for c in ITEM_REQUIRED],
        ("ExpectColumnValuesToBeUnique", {"column": "item_id"}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "task_type", "value_set": ["multiple_choice", "generation"]}, "error"),
        ("ExpectColumnValuesToBeBetween", {"column": "gold_index", "min_value": -1, "max_value": 25}, "error"),
        ("ExpectColumnValueLengthsToBeBetween", {"column": "input", "min_value": 1, "max_value": 200_000}, "error"),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}, "error"),
    ],
    "predictions": [
        ("ExpectTableColumnsToMatchSet", {"column_set": PREDICTION_REQUIRED, "exact_match": False}, "error"),
        *[("ExpectColumnValuesToNotBeNull", {"column": c}, "error") for c in PREDICTION_REQUIRED],
        ("ExpectColumnValuesToBeUnique", {"column": "cell_key"}, "error"),
        ("ExpectColumnValuesToBeBetween", {"column": "p_correct", "min_value": 0.0, "max_value": 1.0}, "error"),
        ("ExpectColumnValuesToBeBetween", {"column": "logprob_gold", "max_value": 0.0}, "error"),
        ("ExpectColumnValuesToBeInSet", {"column": "decoding", "value_set": ["loglikelihood", "greedy", "sample"]}, "error"),
        # Many empty generations make a generation score noisier, not wrong: warn above 20 %.
        ("ExpectColumnValueLengthsToBeBetween", {"column": "generation", "min_value": 1, "mostly": 0.8}, "warn"),
    ],
}


def suite_version(name: str) -> str:
    return hash_obj(SUITES[name], 12)
