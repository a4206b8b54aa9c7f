-- Audit 1 (per subject) and the input of audit 6: accuracy per model × benchmark × dataset version × grid ×
-- subject on the headline cells (headline template, primary grid coordinates), with a Wilson 95% interval.
-- Items without a subject are pooled under '(none)'.
with headline as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version,
        coalesce(i.subject, '(none)') as subject,
        p.is_correct
    from {{ ref('stg_lake__predictions') }} as p
    left join {{ ref('stg_lake__items') }} as i
        on p.benchmark = i.benchmark and p.dataset_version = i.dataset_version and p.item_id = i.item_id
    where p.is_headline and p.is_correct is not null
),

counts as (
    select
        model, model_version, benchmark, dataset_version, grid_version, subject,
        count(*) as n,
        count(*) filter (where is_correct) as k
    from headline
    group by all
)

select
    model, model_version, benchmark, dataset_version, grid_version, subject,
    n::integer as n,
    k::integer as k,
    k::double / n as accuracy,
    {{ wilson_low('k', 'n') }} as ci_low,
    {{ wilson_high('k', 'n') }} as ci_high
from counts
