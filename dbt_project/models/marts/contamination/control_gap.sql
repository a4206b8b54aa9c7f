-- Control gap per model × benchmark × rewrite (AUDITS.md audit 8e): accuracy on originals − on meaning-preserving
-- rewrites of the same items, paired at the headline cell, with the 2×2 McNemar counts and the exact p-value.
select
    model::varchar as model,
    model_version::varchar as model_version,
    benchmark::varchar as benchmark,
    dataset_version::varchar as dataset_version,
    rewrite_kind::varchar as rewrite_kind,
    variant::varchar as variant,
    n_pairs::integer as n_pairs,
    n_both_correct::integer as n_both_correct,
    n_orig_only::integer as n_orig_only,
    n_rewrite_only::integer as n_rewrite_only,
    n_neither::integer as n_neither,
    acc_original::double as acc_original,
    acc_rewrite::double as acc_rewrite,
    control_gap::double as control_gap,
    gap_ci_low::double as gap_ci_low,
    gap_ci_high::double as gap_ci_high,
    mcnemar_p::double as mcnemar_p
from {{ ref('int_control_gaps_compared') }}
