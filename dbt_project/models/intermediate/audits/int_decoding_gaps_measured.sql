-- Audit 3: does the score depend on decoding greedily rather than sampling? One row per model × model version ×
-- benchmark × dataset version × grid version whose grid decodes the same items both greedily and by sampling
-- (a grid with decoding: [greedy, sample × K]). The greedy cell is the headline cell; the K samples are those of
-- the same template, few-shot seed, original answer order and numeric configuration. Items with a scored greedy
-- cell and all K scored samples form the comparison (the others are counted in n_items_incomplete); with gᵢ the
-- greedy outcome and kᵢ of K samples correct:
--   gap               = acc_greedy − mean_k acc_sample_k  = meanᵢ (gᵢ − kᵢ/K)
--   gap_se            = SD over items of (gᵢ − kᵢ/K) / √n  (paired over items; the interval is gap ± 1.96·gap_se)
--   sample_sd         = SD (ddof = 0) over the K samples of the sample accuracy; sample_min / sample_max
--   best_of_n         = meanᵢ 1[kᵢ > 0] (= unbiased pass@K);  worst_of_n = meanᵢ 1[kᵢ = K]
-- (AUDITS.md audit 3; benchtrust.stats.variance.decoding_summary is the reference.)
with greedy as (
    select
        model, model_version, benchmark, dataset_version, grid_version, template_id, fewshot_seed,
        dtype, attn_implementation, batch_tokens, item_id, is_correct as greedy_correct
    from {{ ref('stg_lake__predictions') }}
    where is_headline and decoding = 'greedy'
),

configs as (
    select distinct
        model, model_version, benchmark, dataset_version, grid_version, template_id, fewshot_seed,
        dtype, attn_implementation, batch_tokens
    from greedy
),

samples as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, p.item_id, p.sample_idx,
        p.temperature, p.top_p, p.is_correct
    from {{ ref('stg_lake__predictions') }} as p
    inner join configs as c
        on p.model = c.model and p.model_version = c.model_version and p.benchmark = c.benchmark
            and p.dataset_version = c.dataset_version and c.grid_version is not distinct from p.grid_version
            and p.template_id = c.template_id and c.fewshot_seed is not distinct from p.fewshot_seed
            and c.dtype is not distinct from p.dtype
            and c.attn_implementation is not distinct from p.attn_implementation
            and c.batch_tokens is not distinct from p.batch_tokens
    where p.decoding = 'sample' and p.permutation_seed = 0
),

sampling as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(distinct sample_idx) as n_samples,
        any_value(temperature) as temperature,
        any_value(top_p) as top_p
    from samples
    group by all
),

per_item as (
    select
        s.model, s.model_version, s.benchmark, s.dataset_version, s.grid_version, s.item_id,
        count(distinct s.sample_idx) filter (where s.is_correct is not null) as n_scored,
        count(*) filter (where s.is_correct) as k
    from samples as s
    group by all
),

complete_items as (
    select i.*, g.greedy_correct, m.n_samples
    from per_item as i
    inner join sampling as m using (model, model_version, benchmark, dataset_version, grid_version)
    inner join greedy as g
        on i.model = g.model and i.model_version = g.model_version and i.benchmark = g.benchmark
            and i.dataset_version = g.dataset_version and g.grid_version is not distinct from i.grid_version
            and i.item_id = g.item_id
    where i.n_scored = m.n_samples and g.greedy_correct is not null
),

item_stats as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(*) as n_items,
        avg(case when greedy_correct then 1.0::double else 0.0::double end) as greedy_accuracy,
        avg((case when greedy_correct then 1.0::double else 0.0::double end) - k::double / n_samples) as gap,
        stddev_samp((case when greedy_correct then 1.0::double else 0.0::double end) - k::double / n_samples)
        / sqrt(count(*)) as gap_se,
        avg(case when k > 0 then 1.0::double else 0.0::double end) as best_of_n,
        avg(case when k = n_samples then 1.0::double else 0.0::double end) as worst_of_n
    from complete_items
    group by all
),

sample_accuracies as (
    select
        s.model, s.model_version, s.benchmark, s.dataset_version, s.grid_version, s.sample_idx,
        avg(case when s.is_correct then 1.0::double else 0.0::double end) as sample_accuracy
    from samples as s
    semi join complete_items as i
        on s.model = i.model and s.model_version = i.model_version and s.benchmark = i.benchmark
            and s.dataset_version = i.dataset_version and i.grid_version is not distinct from s.grid_version
            and s.item_id = i.item_id
    group by all
),

sample_stats as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        avg(sample_accuracy) as sample_accuracy_mean,
        stddev_pop(sample_accuracy) as sample_sd,
        min(sample_accuracy) as sample_min,
        max(sample_accuracy) as sample_max
    from sample_accuracies
    group by all
),

greedy_items as (
    select model, model_version, benchmark, dataset_version, grid_version, count(*) as n_greedy_items
    from greedy
    group by all
)

select
    s.model, s.model_version, s.benchmark, s.dataset_version, s.grid_version,
    m.n_samples::integer as n_samples,
    m.temperature::double as temperature,
    m.top_p::double as top_p,
    s.n_items::integer as n_items,
    (g.n_greedy_items - s.n_items)::integer as n_items_incomplete,
    s.greedy_accuracy,
    a.sample_accuracy_mean,
    s.gap,
    s.gap_se,
    s.gap - {{ var('z95') }} * s.gap_se as gap_ci_low,
    s.gap + {{ var('z95') }} * s.gap_se as gap_ci_high,
    a.sample_sd,
    a.sample_min,
    a.sample_max,
    s.best_of_n,
    s.worst_of_n
from item_stats as s
inner join sampling as m using (model, model_version, benchmark, dataset_version, grid_version)
inner join sample_stats as a using (model, model_version, benchmark, dataset_version, grid_version)
inner join greedy_items as g using (model, model_version, benchmark, dataset_version, grid_version)
