-- One row per model × benchmark × dataset version × report version: the headline score with a small-n-safe
-- interval (Wilson, AUDITS.md audit 1) and the first audit summaries.
with templates as (
    select * from {{ ref('int_template_scores_aggregated') }}
),

headline as (
    select * from templates
    where is_headline_template
),

spread as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(*) as n_templates,
        min(n_correct::double / n_scored) as template_acc_min,
        max(n_correct::double / n_scored) as template_acc_max
    from templates
    where n_scored > 0
    group by all
),

items as (
    select
        benchmark, dataset_version,
        count(*) as benchmark_items
    from {{ ref('stg_lake__items') }}
    group by all
),

-- duplicates among the items this report ran (its headline cells), not over the whole dataset version: a
-- --limit 20 run reports the duplicates among its 20 items
run_duplicates as (
    select
        o.model, o.model_version, o.benchmark, o.dataset_version, o.grid_version,
        count(distinct o.item_id) filter (where i.is_duplicate) as n_duplicate_items
    from {{ ref('int_item_outcomes_selected') }} as o
    inner join {{ ref('stg_lake__items') }} as i using (benchmark, dataset_version, item_id)
    group by all
),

generation as (
    select * from {{ ref('int_generation_samples_aggregated') }}
),

quarantine as (
    select benchmark, dataset_version, count(*) as n_quarantined
    from {{ ref('stg_lake__quarantined_items') }}
    group by all
),

-- audit 10 summaries per benchmark × dataset version (the item-level evidence is in item_audit)
item_quality as (
    select
        q.benchmark, q.dataset_version,
        count(*) filter (where q.has_repeated_options or q.gold_outside_options) as n_option_problem_items,
        count(*) filter (where le.is_candidate) as n_label_error_candidates
    from {{ ref('int_item_qualities_checked') }} as q
    left join {{ ref('int_label_errors_scored') }} as le using (benchmark, dataset_version, item_id)
    group by all
)

select
    h.model,
    h.model_version,
    h.benchmark,
    h.dataset_version,
    h.grid_version,
    substr(md5(concat_ws(
        '|', h.model_version, h.dataset_version, h.grid_version,
        '{{ var("benchtrust_code_version") }}'
    )), 1, 16) as report_version,
    h.template_id as headline_template,
    h.n_items::integer as n_items,
    h.n_scored::integer as n_scored,
    h.n_correct::integer as n_correct,
    case when h.n_scored > 0 then h.n_correct::double / h.n_scored end as accuracy,
    {{ wilson_low('h.n_correct', 'h.n_scored') }} as ci_low,
    {{ wilson_high('h.n_correct', 'h.n_scored') }} as ci_high,
    case when h.n_scored > 0 then 'wilson' end as ci_method,
    0.95::double as ci_level,
    coalesce(s.n_templates, 0)::integer as n_templates,
    s.template_acc_min,
    s.template_acc_max,
    s.template_acc_max - s.template_acc_min as prompt_spread,
    coalesce(i.benchmark_items, 0)::integer as benchmark_items,
    coalesce(d.n_duplicate_items, 0)::integer as n_duplicate_items,
    coalesce(q.n_quarantined, 0)::integer as n_quarantined,
    g.n_samples::integer as n_samples,
    g.pass_at_1,
    g.pass_at_5,
    g.pass_at_10,
    h.written_at,
    row_number() over (partition by h.model, h.benchmark order by h.written_at desc, h.dataset_version asc)
    = 1 as is_latest,
    -- audit summaries from models/intermediate/audits (the full audits are the marts in marts/audits)
    u.clustered_se,
    ra.iqm_subject_accuracy,
    rv.n_runs,
    rv.seed_sd,
    rv.independent_sd,
    rv.pairwise_churn,
    rv.flip_share,
    ps.cps,
    ps.pss,
    ps.kendalls_w,
    ca.ece,
    ca.brier,
    coalesce(iq.n_label_error_candidates, 0)::integer as n_label_error_candidates,
    coalesce(iq.n_option_problem_items, 0)::integer as n_option_problem_items
from headline as h
left join spread as s using (model, model_version, benchmark, dataset_version, grid_version)
left join items as i using (benchmark, dataset_version)
left join run_duplicates as d using (model, model_version, benchmark, dataset_version, grid_version)
left join quarantine as q using (benchmark, dataset_version)
left join generation as g using (model, model_version, benchmark, dataset_version, grid_version)
left join
    {{ ref('int_score_uncertainties_estimated') }} as u
    using (model, model_version, benchmark, dataset_version, grid_version)
left join
    {{ ref('int_subject_scores_pooled') }} as ra
    using (model, model_version, benchmark, dataset_version, grid_version)
left join
    {{ ref('int_run_variances_measured') }} as rv
    using (model, model_version, benchmark, dataset_version, grid_version)
left join
    {{ ref('int_prompt_sensitivities_measured') }} as ps
    using (model, model_version, benchmark, dataset_version, grid_version)
left join
    {{ ref('int_answer_calibrations_measured') }} as ca
    using (model, model_version, benchmark, dataset_version, grid_version)
left join item_quality as iq using (benchmark, dataset_version)
