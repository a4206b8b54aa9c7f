-- One row per model × model version × benchmark × dataset version × grid version × subject: the headline accuracy
-- of the subject with a Wilson 95% interval (audit 1), beside the subject's item-quality counts (audit 10), which
-- belong to the benchmark × dataset version and repeat for every model.
with quality as (
    select
        benchmark, dataset_version, coalesce(subject, '(none)') as subject,
        count(*) as subject_items,
        count(*) filter (where is_duplicate) as n_duplicate_items,
        count(*) filter (where is_exact_duplicate) as n_exact_duplicate_items,
        count(*) filter (where has_repeated_options or gold_outside_options) as n_option_problems
    from {{ ref('int_item_qualities_checked') }}
    group by all
),

label_errors as (
    select
        e.benchmark, e.dataset_version, coalesce(i.subject, '(none)') as subject,
        count(*) as n_label_scored,
        count(*) filter (where e.is_candidate) as n_label_error_candidates
    from {{ ref('int_label_errors_scored') }} as e
    left join {{ ref('stg_lake__items') }} as i using (benchmark, dataset_version, item_id)
    group by all
)

select
    s.model,
    s.model_version,
    s.benchmark,
    s.dataset_version,
    s.grid_version,
    s.subject,
    s.n,
    s.k,
    s.accuracy,
    s.ci_low,
    s.ci_high,
    'wilson' as ci_method,
    coalesce(q.subject_items, 0)::integer as subject_items,
    coalesce(q.n_duplicate_items, 0)::integer as n_duplicate_items,
    coalesce(q.n_exact_duplicate_items, 0)::integer as n_exact_duplicate_items,
    coalesce(q.n_option_problems, 0)::integer as n_option_problems,
    coalesce(l.n_label_error_candidates, 0)::integer as n_label_error_candidates,
    case when l.n_label_scored > 0 then l.n_label_error_candidates::double / l.n_label_scored end
        as label_error_candidate_rate
from {{ ref('int_subject_scores_aggregated') }} as s
left join quality as q using (benchmark, dataset_version, subject)
left join label_errors as l using (benchmark, dataset_version, subject)
