"""Types shared by the model registry, the engines and the runner, in a module that imports none of them.

``models`` builds an engine (it imports both engines), both engines take a :class:`ResolvedModel` and return
:class:`OptionScore`, and the lake and the importers write rows of :data:`PREDICTION_COLUMNS`: keeping these
here keeps the import graph free of circles (issue 13; ``tests/test_layers.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# One row per grid cell of the lake's predictions table (benchtrust/lake.py writes its schema file from this list;
# the importers produce exactly these columns).
PREDICTION_COLUMNS = [
    "cell_key",
    "model",
    "model_version",
    "benchmark",
    "dataset_version",
    "grid_version",
    "item_id",
    "item_hash",
    "task_type",
    "template_id",
    "is_primary",
    "is_headline",
    "n_fewshot",
    "fewshot_seed",
    "permutation_seed",
    "decoding",
    "temperature",
    "top_p",
    "sample_idx",
    "prediction",
    "predicted_index",
    "gold",
    "is_correct",
    "score",
    "p_correct",
    "logprob_gold",
    "option_logprobs",
    "token_logprobs",
    "generation",
    "exec_status",
    "exec_reason",
    "device",
    "dtype",
    "attn_implementation",
    "batch_tokens",
    "library_versions",
    "computed_at",
]


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    load_path: str  # folder, hub id, or folder holding the GGUF file
    gguf_file: str | None
    model_version: str
    revision: str | None = None
    dtype: str = "auto"
    attn_implementation: str = "auto"
    engine: str = "transformers"  # transformers | openai
    options: tuple[tuple[str, Any], ...] = ()  # engine options (e.g. timeout, chat) as sorted pairs

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "load_path": self.load_path,
            "gguf_file": self.gguf_file,
            "model_version": self.model_version,
            "revision": self.revision,
        }


@dataclass
class OptionScore:
    logprob: float  # sum of the continuation's token log-probabilities
    token_logprobs: list[float]
    is_greedy: bool  # every continuation token is the argmax (harness's `is_greedy`)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop sequence."""
    cut = len(text)
    for s in stop:
        k = text.find(s)
        if k != -1:
            cut = min(cut, k)
    return text[:cut]
