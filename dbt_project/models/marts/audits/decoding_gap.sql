-- One row per model × model version × benchmark × dataset version × grid version that decodes the same items
-- greedily and by sampling: the decoding gap (audit 3; definitions in int_decoding_gaps_measured).
select
    model, model_version, benchmark, dataset_version, grid_version,
    n_samples, temperature, top_p, n_items, n_items_incomplete,
    greedy_accuracy, sample_accuracy_mean, gap, gap_se, gap_ci_low, gap_ci_high,
    sample_sd, sample_min, sample_max, best_of_n, worst_of_n
from {{ ref('int_decoding_gaps_measured') }}
