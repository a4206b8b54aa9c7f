-- Accuracy per model × benchmark × dataset version × grid × template at the primary grid coordinates
-- (original answer order, first few-shot seed, first sample, first numeric configuration): the scope of the
-- headline score and of the prompt-spread summary.
select
    model,
    model_version,
    benchmark,
    dataset_version,
    grid_version,
    template_id,
    bool_or(is_headline) as is_headline_template,
    count(distinct item_id) as n_items,
    count(is_correct) as n_scored,
    count(*) filter (where is_correct) as n_correct,
    max(written_at) as written_at
from {{ ref('stg_lake__predictions') }}
where is_primary
group by all
