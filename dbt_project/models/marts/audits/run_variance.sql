-- One row per model × model version × benchmark × dataset version × grid version: would a re-run give the same
-- number (audit 2; definitions in int_run_variances_measured)?
select
    model, model_version, benchmark, dataset_version, grid_version,
    template_id, n_runs, n_items, n_items_incomplete, mean_accuracy, flip_share, pairwise_churn,
    seed_sd, independent_sd, sd_ratio, run_accuracy_min, run_accuracy_max
from {{ ref('int_run_variances_measured') }}
