select
    benchmark::varchar as benchmark,
    dataset_version::varchar as dataset_version,
    source_file::varchar as source_file,
    source_row::bigint as source_row,
    rule::varchar as rule,
    detail::varchar as detail,
    raw::varchar as raw
from {{ source('lake', 'quarantined_items') }}
where {{ bt_listed_file('filename') }}
