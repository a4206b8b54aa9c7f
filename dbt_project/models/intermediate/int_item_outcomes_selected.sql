-- One row per model × model version × benchmark × dataset version × grid version × item: the item's outcome at
-- the headline cell (headline template, primary grid coordinates) — the cell the headline score counts. Items
-- are matched across versions and models by item_id *and* item_hash, so an edited item never pairs with its
-- old text. Feeds the paired comparisons (marts.model_comparisons) and the reports' "what changed".
select
    model,
    model_version,
    benchmark,
    dataset_version,
    grid_version,
    item_id,
    item_hash,
    is_correct
from {{ ref('stg_lake__predictions') }}
where is_headline
