-- One row per benchmark × dataset version × item: duplicate flags now; contamination, label-error and
-- difficulty evidence join here as their audits land.
with headline as (
    select
        benchmark, dataset_version, item_id,
        count(distinct model) as n_models,
        avg(case when is_correct then 1.0 when not is_correct then 0.0 end) as headline_accuracy
    from {{ ref('stg_lake__predictions') }}
    where is_headline
    group by all
)

select
    i.benchmark,
    i.dataset_version,
    i.item_id,
    i.subject,
    i.task_type,
    i.item_hash,
    i.is_duplicate,
    i.duplicate_of,
    coalesce(h.n_models, 0)::integer as n_models,
    h.headline_accuracy
from {{ ref('stg_lake__items') }} as i
left join headline as h using (benchmark, dataset_version, item_id)
