"""Reference-corpus documents (the contamination audit's other side): the ``corpus_docs`` contract.

The corpus source arrives later; its border is defined now so that it is checked from the first day:
``corpus, corpus_version, doc_id, text``, one row per (corpus, corpus_version, doc_id), non-empty text
within ``MAX_DOC_CHARS``, and a warning when more than 1 % of documents carry replacement or control
characters.
"""

from __future__ import annotations

import pandas as pd

from data_contracts.runner import ContractResult, validate
from data_contracts.suites import CORPUS_REQUIRED


def validate_corpus_docs(df: pd.DataFrame) -> ContractResult:
    return validate(df, "corpus_docs")


__all__ = ["CORPUS_REQUIRED", "validate_corpus_docs"]
