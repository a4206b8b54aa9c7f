-- Audit 1: how sure is the headline accuracy when items come in clusters (subjects)? One row per model × model
-- version × benchmark × dataset version × grid version, over the headline cells.
--   Var = p̂(1−p̂)/N + (1/N²)·Σ_c [(Σ_{i∈c} r_i)² − Σ_{i∈c} r_i²],  r_i = x_i − p̂
-- (AUDITS.md audit 1; the first term is computed as Σ r_i²/N², which equals p̂(1−p̂)/N for 0/1 scores — the
-- same arrangement as benchtrust.stats.clustered_se, no small-sample correction). An item without a subject
-- is its own cluster. design_effect = clustered variance / binomial variance (NULL when p̂ is 0 or 1).
with cells as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version,
        coalesce(i.subject, 'item:' || p.item_id) as cluster,
        case when p.is_correct then 1.0::double else 0.0::double end as x
    from {{ ref('stg_lake__predictions') }} as p
    left join {{ ref('stg_lake__items') }} as i
        on p.benchmark = i.benchmark and p.dataset_version = i.dataset_version and p.item_id = i.item_id
    where p.is_headline and p.is_correct is not null
),

totals as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(*) as n,
        count(*) filter (where x = 1) as k,
        (count(*) filter (where x = 1))::double / count(*) as p_hat
    from cells
    group by all
),

clusters as (
    select
        c.model, c.model_version, c.benchmark, c.dataset_version, c.grid_version, c.cluster,
        sum(c.x - t.p_hat) as sum_r,
        sum((c.x - t.p_hat) * (c.x - t.p_hat)) as sum_r2
    from cells as c
    inner join totals as t using (model, model_version, benchmark, dataset_version, grid_version)
    group by all
),

variances as (
    select
        t.model, t.model_version, t.benchmark, t.dataset_version, t.grid_version, t.n, t.k, t.p_hat,
        count(*) as n_clusters,
        sum(c.sum_r2) as sum_plain,
        sum(c.sum_r * c.sum_r - c.sum_r2) as sum_cross
    from totals as t
    inner join clusters as c using (model, model_version, benchmark, dataset_version, grid_version)
    group by all
),

terms as (
    select *, sum_plain / (n::double * n) as var_plain, sum_cross / (n::double * n) as var_cross
    from variances
)

select
    model, model_version, benchmark, dataset_version, grid_version,
    n::integer as n,
    k::integer as k,
    p_hat as accuracy,
    n_clusters::integer as n_clusters,
    sqrt(p_hat * (1 - p_hat) / n) as binomial_se,
    sqrt(greatest(var_plain + var_cross, 0.0)) as clustered_se,
    case when p_hat > 0 and p_hat < 1 then greatest(var_plain + var_cross, 0.0) / (p_hat * (1 - p_hat) / n) end
        as design_effect
from terms
