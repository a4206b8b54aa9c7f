"""The dbt vars whose values live in benchtrust's settings, passed on every dbt invocation.

``dbt_project/dbt_project.yml`` declares every var the SQL reads. Most are audit thresholds whose one home is
that file. The vars below mirror a setting that Python reads too (the n-gram sizes the corpus pass scans, the
width of the embedding vectors it writes): dbt_project.yml declares them as ``null`` and the SQL reads them
through the ``bt_setting_var`` macro, which fails at run time when one is missing, so the SQL can never fall
back to a second copy of the value. Every place that runs dbt (the Dagster dbt asset, the tests' helpers, the
benchmark scripts) passes :func:`dbt_vars_args`.

``python -m benchtrust.dbt_vars`` prints the JSON for a hand-run ``dbt build --vars "$(...)"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchtrust.settings import get_settings


def dbt_vars(config_dir: str | Path | None = None) -> dict[str, Any]:
    """The settings-derived dbt vars, read from the registries in ``config_dir`` (default: the settings')."""
    from benchtrust.contamination.corpora import CorpusRegistry
    from benchtrust.contamination.embeddings import EMBED_DIM

    reg = CorpusRegistry.load(config_dir or get_settings().config_dir)
    return {
        "contamination_ngram_sizes": [int(n) for n in reg.settings.ngram_sizes],
        "embedding_dim": int(EMBED_DIM),
    }


def dbt_vars_args(config_dir: str | Path | None = None) -> list[str]:
    """``["--vars", "<json>"]`` for a dbt command line."""
    return ["--vars", json.dumps(dbt_vars(config_dir), sort_keys=True)]


if __name__ == "__main__":
    print(json.dumps(dbt_vars(), sort_keys=True))
