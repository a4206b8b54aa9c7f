-- Audit 12: what changed between consecutive versions of a model × benchmark? One row per version and the one
-- before it (a new model version, dataset version or grid version), compared on their shared items — the same
-- item_id *and* item_hash, so an edited item never pairs with its old text — at the headline cells.
-- Versions are ordered by when their headline predictions were written (then dataset version descending,
-- model version, grid version: the order of marts.report_versions).
--   negative_flips  old right, new wrong;  positive_flips  old wrong, new right (McNemar's discordant counts)
--   negative_flip_rate = negative_flips / n_shared, positive_flip_rate likewise, net_delta = acc_new − acc_old
--   churn_old / churn_new   same-configuration pairwise churn of each version (audit 2; NULL without reruns)
--   expected_negative_flips = n_shared · churn_old / 2: what reruns of the unchanged old configuration would
--   show (runs are exchangeable, so half of the churn goes each way).
-- Whether the negative flips exceed churn is a one-sided binomial test (benchtrust.stats.flips_exceed_churn),
-- and the McNemar p-value an exact binomial sum: the report computes both from these counts.
with outcomes as (
    select model, model_version, benchmark, dataset_version, grid_version, item_id, item_hash, is_correct, written_at
    from {{ ref('stg_lake__predictions') }}
    where is_headline
),

versions as (
    select
        model, benchmark, model_version, dataset_version, grid_version,
        max(written_at) as written_at
    from outcomes
    group by all
),

ordered as (
    select
        *,
        lag(model_version) over w as old_model_version,
        lag(dataset_version) over w as old_dataset_version,
        lag(grid_version) over w as old_grid_version,
        lag(written_at) over w as old_written_at,
        row_number() over w as version_seq
    from versions
    window
        w as (
            partition by model, benchmark
            order by written_at asc, dataset_version desc, model_version asc, grid_version asc
        )
),

pairs as (
    select * from ordered
    where version_seq > 1
),

shared as (
    select
        p.model, p.benchmark,
        p.old_model_version, p.old_dataset_version, p.old_grid_version,
        p.model_version as new_model_version, p.dataset_version as new_dataset_version,
        p.grid_version as new_grid_version,
        o.is_correct as correct_old,
        n.is_correct as correct_new
    from pairs as p
    inner join outcomes as o
        on p.model = o.model and p.benchmark = o.benchmark and p.old_model_version = o.model_version
            and p.old_dataset_version = o.dataset_version and o.grid_version is not distinct from p.old_grid_version
    inner join outcomes as n
        on p.model = n.model and p.benchmark = n.benchmark and p.model_version = n.model_version
            and p.dataset_version = n.dataset_version and n.grid_version is not distinct from p.grid_version
            and o.item_id = n.item_id and n.item_hash is not distinct from o.item_hash
    where o.is_correct is not null and n.is_correct is not null
),

counts as (
    select
        p.model, p.benchmark,
        p.old_model_version, p.old_dataset_version, p.old_grid_version,
        p.model_version as new_model_version, p.dataset_version as new_dataset_version,
        p.grid_version as new_grid_version,
        p.version_seq,
        count(s.correct_old) as n_shared,
        count(*) filter (where s.correct_old and s.correct_new) as n_both_correct,
        count(*) filter (where s.correct_old and not s.correct_new) as negative_flips,
        count(*) filter (where not s.correct_old and s.correct_new) as positive_flips,
        count(*) filter (where not s.correct_old and not s.correct_new) as n_neither
    from pairs as p
    left join shared as s
        on p.model = s.model and p.benchmark = s.benchmark
            and p.old_model_version = s.old_model_version and p.old_dataset_version = s.old_dataset_version
            and s.old_grid_version is not distinct from p.old_grid_version
            and p.model_version = s.new_model_version and p.dataset_version = s.new_dataset_version
            and s.new_grid_version is not distinct from p.grid_version
    group by all
)

select
    c.model,
    c.benchmark,
    c.old_model_version,
    c.old_dataset_version,
    c.old_grid_version,
    c.new_model_version,
    c.new_dataset_version,
    c.new_grid_version,
    c.version_seq::integer as version_seq,
    c.old_model_version <> c.new_model_version as model_changed,
    c.old_dataset_version <> c.new_dataset_version as dataset_changed,
    (c.old_grid_version is distinct from c.new_grid_version) as grid_changed,
    c.n_shared::integer as n_shared,
    c.n_both_correct::integer as n_both_correct,
    c.negative_flips::integer as negative_flips,
    c.positive_flips::integer as positive_flips,
    c.n_neither::integer as n_neither,
    case when c.n_shared > 0 then (c.n_both_correct + c.negative_flips)::double / c.n_shared end as acc_old,
    case when c.n_shared > 0 then (c.n_both_correct + c.positive_flips)::double / c.n_shared end as acc_new,
    case when c.n_shared > 0 then c.negative_flips::double / c.n_shared end as negative_flip_rate,
    case when c.n_shared > 0 then c.positive_flips::double / c.n_shared end as positive_flip_rate,
    case when c.n_shared > 0 then (c.positive_flips - c.negative_flips)::double / c.n_shared end as net_delta,
    ro.pairwise_churn as churn_old,
    rn.pairwise_churn as churn_new,
    c.n_shared * ro.pairwise_churn / 2 as expected_negative_flips
from counts as c
left join {{ ref('int_run_variances_measured') }} as ro
    on c.model = ro.model and c.benchmark = ro.benchmark and c.old_model_version = ro.model_version
        and c.old_dataset_version = ro.dataset_version and ro.grid_version is not distinct from c.old_grid_version
left join {{ ref('int_run_variances_measured') }} as rn
    on c.model = rn.model and c.benchmark = rn.benchmark and c.new_model_version = rn.model_version
        and c.new_dataset_version = rn.dataset_version and rn.grid_version is not distinct from c.new_grid_version
