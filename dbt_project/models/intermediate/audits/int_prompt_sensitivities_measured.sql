-- Audit 4: does the wording or format of the prompt move the score? One row per model × model version ×
-- benchmark × dataset version × grid version, over the templates at the primary grid coordinates (original
-- answer order, first few-shot seed, first sample, first numeric configuration), where they are comparable.
--   spread = MaxP − min_p acc_p;  MaxP, AvgP = max / mean over templates of the template accuracy;
--   CPS    = MaxP·(1 − (MaxP − AvgP))                         (Mizrahi et al.)
--   PSS    = meanᵢ mᵢ(P − mᵢ)/C(P, 2)                          (ProSA, binary outcomes; items scored under all P
--                                                              templates, P ≥ 2; mᵢ = templates that get i right)
--   Kendall's W of the model ranking across templates, per benchmark × dataset version: the objects are the
--   model × model version × grid version rows of this model, the raters the templates every one of them has;
--   ranks ascending by accuracy with ties averaged; W = 12·S / (m²(n³−n) − m·Σ(t³−t)), S = Σⱼ(Rⱼ − m(n+1)/2)²,
--   NULL with fewer than 2 models or when every template ties every model (benchtrust.stats.kendalls_w).
with cells as (
    select model, model_version, benchmark, dataset_version, grid_version, template_id, item_id, is_correct
    from {{ ref('stg_lake__predictions') }}
    where is_primary and is_correct is not null
),

template_acc as (
    select
        model, model_version, benchmark, dataset_version, grid_version, template_id,
        count(*) filter (where is_correct)::double / count(*) as accuracy
    from cells
    group by all
),

per_model as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(*) as n_templates,
        max(accuracy) as max_p,
        min(accuracy) as min_p,
        avg(accuracy) as avg_p
    from template_acc
    group by all
),

per_item as (
    select
        model, model_version, benchmark, dataset_version, grid_version, item_id,
        count(distinct template_id) as n_item_templates,
        count(*) as n_rows,
        count(*) filter (where is_correct) as m
    from cells
    group by all
),

pss as (
    select
        i.model, i.model_version, i.benchmark, i.dataset_version, i.grid_version,
        count(*) as n_items_pss,
        avg(i.m::double * (p.n_templates - i.m) / (p.n_templates * (p.n_templates - 1) / 2.0::double)) as pss
    from per_item as i
    inner join per_model as p using (model, model_version, benchmark, dataset_version, grid_version)
    where p.n_templates >= 2 and i.n_item_templates = p.n_templates and i.n_rows = p.n_templates
    group by all
),

-- Kendall's W across the models of one benchmark × dataset version
objects as (
    select benchmark, dataset_version, count(*) as n_objects
    from per_model
    group by all
),

shared_templates as (
    select t.benchmark, t.dataset_version, t.template_id
    from template_acc as t
    inner join objects as o using (benchmark, dataset_version)
    group by t.benchmark, t.dataset_version, t.template_id, o.n_objects
    having count(*) = o.n_objects
),

ranked as (
    select
        t.*,
        rank() over (partition by t.benchmark, t.dataset_version, t.template_id order by t.accuracy) as min_rank,
        count(*) over (partition by t.benchmark, t.dataset_version, t.template_id, t.accuracy) as tie_size
    from template_acc as t
    semi join shared_templates as s
        on t.benchmark = s.benchmark and t.dataset_version = s.dataset_version and t.template_id = s.template_id
),

rank_sums as (
    select
        benchmark, dataset_version, model, model_version, grid_version,
        sum(min_rank + (tie_size - 1) / 2.0::double) as rank_sum,
        -- each member of a tie group of size t contributes t² − 1, so the group contributes t³ − t
        sum(tie_size::double * tie_size - 1) as tie_part
    from ranked
    group by all
),

concordance as (
    select
        r.benchmark, r.dataset_version,
        count(*)::double as n,
        any_value(tpl.n_templates)::double as m,
        sum(r.tie_part) as tie_term,
        list(r.rank_sum) as rank_sums
    from rank_sums as r
    inner join (
        select benchmark, dataset_version, count(*) as n_templates from shared_templates
        group by all
    ) as tpl
        using (benchmark, dataset_version)
    group by all
),

kendall as (
    select
        benchmark, dataset_version,
        n::integer as w_n_models,
        m::integer as w_n_templates,
        case when n >= 2 and m * m * (n * n * n - n) - m * tie_term > 0 then
                12.0::double
                * list_sum(
                    list_transform(
                        rank_sums, lambda s: (s - m * (n + 1) / 2.0::double) * (s - m * (n + 1) / 2.0::double)
                    )
                )
                / (m * m * (n * n * n - n) - m * tie_term)
        end as kendalls_w
    from concordance
)

select
    p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version,
    p.n_templates::integer as n_templates,
    p.min_p as template_acc_min,
    p.max_p,
    p.avg_p,
    p.max_p - p.min_p as spread,
    p.max_p * (1 - (p.max_p - p.avg_p)) as cps,
    coalesce(s.n_items_pss, 0)::integer as n_items_pss,
    s.pss,
    k.w_n_models,
    k.w_n_templates,
    k.kendalls_w
from per_model as p
left join pss as s using (model, model_version, benchmark, dataset_version, grid_version)
left join kendall as k using (benchmark, dataset_version)
