-- Audit 6 (point estimates): one honest number over many subjects. One row per model × model version ×
-- benchmark × dataset version × grid version, over the subject accuracies of int_subject_scores_aggregated
-- (one run: the headline cells):
--   mean_subject_accuracy    mean over subjects (every subject weighs the same, unlike the pooled accuracy)
--   median_subject_accuracy  median over subjects (the mean of the two middle ones for an even count)
--   iqm_subject_accuracy     interquartile mean: drop the floor(n/4) lowest and floor(n/4) highest subject
--                            accuracies and average the rest (scipy.stats.trim_mean(x, 0.25), rliable's IQM)
--   optimality_gap           1 − mean of min(accuracy, 1)
-- The stratified-bootstrap intervals of these stay in Python (benchtrust.stats.stratified_bootstrap_ci).
with subjects as (
    select
        *,
        row_number() over (
            partition by model, model_version, benchmark, dataset_version, grid_version
            order by accuracy, subject
        ) as pos,
        count(*) over (partition by model, model_version, benchmark, dataset_version, grid_version) as n_subjects
    from {{ ref('int_subject_scores_aggregated') }}
)

select
    model, model_version, benchmark, dataset_version, grid_version,
    any_value(n_subjects)::integer as n_subjects,
    avg(accuracy) as mean_subject_accuracy,
    quantile_cont(accuracy, 0.5) as median_subject_accuracy,
    avg(accuracy) filter (where pos > n_subjects // 4 and pos <= n_subjects - n_subjects // 4) as iqm_subject_accuracy,
    1 - avg(least(accuracy, 1.0::double)) as optimality_gap
from subjects
group by all
