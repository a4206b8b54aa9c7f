select
    benchmark,
    dataset_version,
    source_file,
    source_row::bigint as source_row,
    rule,
    detail,
    raw
from {{ source('lake', 'quarantined_items') }}
