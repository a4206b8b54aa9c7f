-- Every rejected input row with its file, row, rule and value: nothing is lost without a reason.
select
    'items' as kind,
    benchmark,
    dataset_version,
    source_file,
    source_row,
    rule,
    detail,
    raw
from {{ ref('stg_lake__quarantined_items') }}
