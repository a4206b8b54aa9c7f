-- Audit 2: would a re-run give the same number? One row per model × model version × benchmark × dataset version
-- × grid version. A "run" is one (fewshot_seed, permutation_seed, sample_idx) of the headline template under the
-- headline's decoding and numeric configuration (dtype, attention kernel, batch token budget), so runs differ
-- only in those seeds. Items scored in every run form the item × run 0/1 matrix (the others are counted in
-- n_items_incomplete); with kᵢ right of R runs and pᵢ = kᵢ/R:
--   flip_share      = share of items with 0 < kᵢ < R
--   pairwise_churn  = meanᵢ 2kᵢ(R−kᵢ)/(R(R−1))            (NULL when R < 2)
--   seed_sd         = SD (ddof = 0) over runs of the run accuracy
--   independent_sd  = √(Σᵢ pᵢ(1−pᵢ))/n, the SD if items erred independently
-- (AUDITS.md audit 2; benchtrust.stats.variance is the reference). seed_sd above independent_sd means errors
-- move together across items from run to run.
with headline_config as (
    select distinct
        model, model_version, benchmark, dataset_version, grid_version,
        template_id, decoding, dtype, attn_implementation, batch_tokens
    from {{ ref('stg_lake__predictions') }}
    where is_headline
),

cells as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version,
        h.template_id, p.item_id,
        dense_rank() over (
            partition by p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version
            order by p.fewshot_seed, p.permutation_seed, p.sample_idx
        ) as run_idx,
        p.is_correct
    from {{ ref('stg_lake__predictions') }} as p
    inner join headline_config as h
        on p.model = h.model and p.model_version = h.model_version and p.benchmark = h.benchmark
            and p.dataset_version = h.dataset_version and h.grid_version is not distinct from p.grid_version
            and p.template_id = h.template_id and h.decoding is not distinct from p.decoding
            and h.dtype is not distinct from p.dtype
            and h.attn_implementation is not distinct from p.attn_implementation
            and h.batch_tokens is not distinct from p.batch_tokens
    where p.is_correct is not null
),

runs as (
    select
        model, model_version, benchmark, dataset_version, grid_version, template_id,
        count(distinct run_idx) as n_runs
    from cells
    group by all
),

per_item as (
    select
        c.model, c.model_version, c.benchmark, c.dataset_version, c.grid_version, c.item_id,
        count(distinct c.run_idx) as n_item_runs,
        count(*) as n_rows,
        count(*) filter (where c.is_correct) as k
    from cells as c
    group by all
),

complete_items as (
    select i.*, r.n_runs, r.template_id
    from per_item as i
    inner join runs as r using (model, model_version, benchmark, dataset_version, grid_version)
    where i.n_item_runs = r.n_runs and i.n_rows = r.n_runs
),

item_stats as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        any_value(template_id) as template_id,
        any_value(n_runs) as n_runs,
        count(*) as n_items,
        sum(k) as n_correct,
        avg(case when k > 0 and k < n_runs then 1.0::double else 0.0::double end) as flip_share,
        case when any_value(n_runs) >= 2 then
                avg(2.0::double * k * (n_runs - k) / (n_runs::double * (n_runs - 1)))
        end as pairwise_churn,
        sqrt(sum((k::double / n_runs) * (1 - k::double / n_runs))) / count(*) as independent_sd
    from complete_items
    group by all
),

run_accuracies as (
    select
        c.model, c.model_version, c.benchmark, c.dataset_version, c.grid_version, c.run_idx,
        avg(case when c.is_correct then 1.0::double else 0.0::double end) as run_accuracy
    from cells as c
    semi join complete_items as i
        on c.model = i.model and c.model_version = i.model_version and c.benchmark = i.benchmark
            and c.dataset_version = i.dataset_version and i.grid_version is not distinct from c.grid_version
            and c.item_id = i.item_id
    group by all
),

run_stats as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        stddev_pop(run_accuracy) as seed_sd,
        min(run_accuracy) as run_accuracy_min,
        max(run_accuracy) as run_accuracy_max
    from run_accuracies
    group by all
),

incomplete as (
    select model, model_version, benchmark, dataset_version, grid_version, count(*) as n_items_incomplete
    from per_item
    group by all
)

select
    s.model, s.model_version, s.benchmark, s.dataset_version, s.grid_version,
    s.template_id,
    s.n_runs::integer as n_runs,
    s.n_items::integer as n_items,
    (i.n_items_incomplete - s.n_items)::integer as n_items_incomplete,
    s.n_correct::double / (s.n_items * s.n_runs) as mean_accuracy,
    s.flip_share,
    s.pairwise_churn,
    r.seed_sd,
    s.independent_sd,
    case when s.independent_sd > 0 then r.seed_sd / s.independent_sd end as sd_ratio,
    r.run_accuracy_min,
    r.run_accuracy_max
from item_stats as s
inner join run_stats as r using (model, model_version, benchmark, dataset_version, grid_version)
inner join incomplete as i using (model, model_version, benchmark, dataset_version, grid_version)
