-- One row per model × model version × benchmark × dataset version × grid version: calibration of the confidence
-- and answer-position bias at the headline cells (audit 11; definitions in int_answer_calibrations_measured).
-- Two Brier scores, named apart: brier (of p_correct, the gold option's probability) and brier_top_label (of the
-- confidence in the chosen option, the one the ECE and the reliability diagram use).
-- position_p_value is not here: it needs the χ² cdf (the report computes it with scipy from position_chi2 and
-- position_df).
select
    model, model_version, benchmark, dataset_version, grid_version,
    n_cells, accuracy, n_with_confidence, mean_confidence, ece, brier, brier_top_label, auroc,
    n_options, n_unparsed, pred_counts, gold_counts, n_by_position, accuracy_by_position,
    position_chi2, position_df,
    accuracy_with_confidence, n_bins, bin_counts, bin_accuracy, bin_confidence
from {{ ref('int_answer_calibrations_measured') }}
