"""Pure statistics of the reliability report (numpy/scipy/statsmodels only; no I/O, no Dagster).

One topic per module; the public API is re-exported here:

- :mod:`.intervals` (audit 1): Wilson, Clopper–Pearson, Beta-posterior intervals, clustered SE,
  P(θ_A > θ_B).
- :mod:`.paired` (audit 5): 2×2 counts, exact McNemar, power / Type-M / Type-S, minimum detectable
  effect.
- :mod:`.variance` (audits 2, 3): flip share, churn, seed SD vs independent-errors SD, decoding
  spread, pass@k.
- :mod:`.prompts` (audit 4): spread, MaxP/AvgP/CPS, ProSA PSS, Kendall's W.
- :mod:`.aggregate` (audit 6): mean, median, IQM, optimality gap, P(X > Y), stratified bootstrap CI.
- :mod:`.bootstrap` (audit 7): joint item bootstrap of many models, ranking stability.
- :mod:`.calibration` (audit 11): reliability table, ECE, Brier, AUROC, answer-position bias.
- :mod:`.regression` (audit 12): flip rates between versions against seed churn.
"""

from benchtrust.stats.aggregate import (
    BootstrapCI,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    optimality_gap,
    probability_of_improvement,
    stratified_bootstrap_ci,
)
from benchtrust.stats.bootstrap import (
    RankingStability,
    bootstrap_accuracy,
    kendall_tau_b,
    ranking_stability,
)
from benchtrust.stats.calibration import (
    PositionBias,
    ReliabilityTable,
    answer_position_bias,
    auroc,
    brier_score,
    expected_calibration_error,
    reliability_table,
)
from benchtrust.stats.intervals import (
    Interval,
    beta_posterior,
    clopper_pearson,
    clustered_se,
    prob_a_beats_b,
    wilson,
)
from benchtrust.stats.paired import (
    PairedCounts,
    PowerResult,
    cell_probabilities,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_counts,
    power_exact,
    power_simulation,
)
from benchtrust.stats.prompts import (
    PromptSummary,
    combined_performance_score,
    kendalls_w,
    prompt_spread,
    prompt_summary,
    prosa_pss,
)
from benchtrust.stats.regression import VersionRegression, flips_exceed_churn, version_regression
from benchtrust.stats.variance import (
    DecodingSummary,
    RunVariance,
    decoding_summary,
    flip_share,
    independent_errors_sd,
    pairwise_churn,
    pass_at_k,
    run_variance,
    seed_sd,
)

__all__ = [  # noqa: RUF022 - grouped by topic, not sorted
    # intervals
    "Interval",
    "wilson",
    "clopper_pearson",
    "beta_posterior",
    "clustered_se",
    "prob_a_beats_b",
    # paired
    "PairedCounts",
    "PowerResult",
    "paired_counts",
    "mcnemar_exact",
    "cell_probabilities",
    "power_simulation",
    "power_exact",
    "minimum_detectable_effect",
    # variance
    "RunVariance",
    "DecodingSummary",
    "flip_share",
    "pairwise_churn",
    "seed_sd",
    "independent_errors_sd",
    "run_variance",
    "decoding_summary",
    "pass_at_k",
    # prompts
    "PromptSummary",
    "prompt_spread",
    "combined_performance_score",
    "prompt_summary",
    "prosa_pss",
    "kendalls_w",
    # aggregate
    "BootstrapCI",
    "aggregate_mean",
    "aggregate_median",
    "aggregate_iqm",
    "optimality_gap",
    "probability_of_improvement",
    "stratified_bootstrap_ci",
    # bootstrap
    "RankingStability",
    "bootstrap_accuracy",
    "kendall_tau_b",
    "ranking_stability",
    # calibration
    "ReliabilityTable",
    "PositionBias",
    "reliability_table",
    "expected_calibration_error",
    "brier_score",
    "auroc",
    "answer_position_bias",
    # regression
    "VersionRegression",
    "flips_exceed_churn",
    "version_regression",
]
