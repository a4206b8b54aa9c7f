-- One row per model × benchmark × dataset version × report version: the headline score with a small-n-safe
-- interval (Wilson, AUDITS.md audit 1) and the first audit summaries.
with templates as (
    select * from {{ ref('int_template_scores_aggregated') }}
),

headline as (
    select * from templates where is_headline_template
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
        count(*) as benchmark_items,
        count(*) filter (where is_duplicate) as n_duplicate_items
    from {{ ref('stg_lake__items') }}
    group by all
),

generation as (
    select * from {{ ref('int_generation_samples_aggregated') }}
),

quarantine as (
    select benchmark, dataset_version, count(*) as n_quarantined
    from {{ ref('stg_lake__quarantined_items') }}
    group by all
)

select
    h.model,
    h.model_version,
    h.benchmark,
    h.dataset_version,
    h.grid_version,
    substr(md5(concat_ws('|', h.model_version, h.dataset_version, h.grid_version,
        '{{ var("benchtrust_code_version") }}')), 1, 16) as report_version,
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
    coalesce(i.n_duplicate_items, 0)::integer as n_duplicate_items,
    coalesce(q.n_quarantined, 0)::integer as n_quarantined,
    g.n_samples::integer as n_samples,
    g.pass_at_1,
    g.pass_at_5,
    g.pass_at_10,
    h.written_at,
    row_number() over (partition by h.model, h.benchmark order by h.written_at desc, h.dataset_version) = 1 as is_latest
from headline as h
left join spread as s using (model, model_version, benchmark, dataset_version, grid_version)
left join items as i using (benchmark, dataset_version)
left join quarantine as q using (benchmark, dataset_version)
left join generation as g using (model, model_version, benchmark, dataset_version, grid_version)
