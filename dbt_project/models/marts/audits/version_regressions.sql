-- One row per version of a model × benchmark and the version before it: flips on the shared items against the
-- same-configuration churn (audit 12; definitions in int_model_versions_compared).
select
    model, benchmark,
    old_model_version, old_dataset_version, old_grid_version,
    new_model_version, new_dataset_version, new_grid_version,
    version_seq, model_changed, dataset_changed, grid_changed,
    n_shared, n_both_correct, negative_flips, positive_flips, n_neither,
    acc_old, acc_new, negative_flip_rate, positive_flip_rate, net_delta,
    churn_old, churn_new, expected_negative_flips
from {{ ref('int_model_versions_compared') }}
