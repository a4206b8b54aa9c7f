"""Audits over canonical predictions (pure pandas/numpy; the statistics live in :mod:`benchtrust.stats`).

Usable on predictions benchtrust produced and on imported ones (:mod:`benchtrust.importers`):

- :mod:`.matrix`: model × item correctness matrix.
- :mod:`.ranking` (audits 1, 5, 7): ranking with Wilson intervals and macro averages, pairwise exact
  McNemar, leaderboard stability under the item bootstrap.
- :mod:`.label_errors` (audit 10): label-error candidates from model agreement, and precision/recall at
  k against reference labels.
- :mod:`.run_agreement` (audits 2, 3): run-to-run agreement of repeated runs (TACr/TACa, best/worst
  possible accuracy), as Atil et al. define them.

No Dagster import here: assets and dbt models call these or re-express them in SQL.
"""

from benchtrust.audits.label_errors import (
    PrecisionAtK,
    label_error_candidates,
    label_error_posteriors,
    precision_recall_at_k,
)
from benchtrust.audits.matrix import CorrectnessMatrix, correctness_matrix
from benchtrust.audits.ranking import (
    StabilityReport,
    leaderboard_stability,
    mcnemar_matrix,
    model_ranking,
    pairwise_mcnemar,
)
from benchtrust.audits.run_agreement import DEFAULT_GROUP_COLUMNS, run_agreement

__all__ = [
    "DEFAULT_GROUP_COLUMNS",
    "CorrectnessMatrix",
    "PrecisionAtK",
    "StabilityReport",
    "correctness_matrix",
    "label_error_candidates",
    "label_error_posteriors",
    "leaderboard_stability",
    "mcnemar_matrix",
    "model_ranking",
    "pairwise_mcnemar",
    "precision_recall_at_k",
    "run_agreement",
]
