select
    benchmark::varchar as benchmark,
    dataset_version::varchar as dataset_version,
    item_id::varchar as item_id,
    item_hash::varchar as item_hash,
    task_type::varchar as task_type,
    input::varchar as input,
    choices::varchar[] as choices,
    gold::varchar as gold,
    gold_index::integer as gold_index,
    nullif(subject::varchar, '') as subject,
    source_file::varchar as source_file,
    source_row::bigint as source_row,
    is_duplicate::boolean as is_duplicate,
    duplicate_of::varchar as duplicate_of,
    ingested_at::timestamptz as ingested_at,
    contract_version::varchar as contract_version
from {{ source('lake', 'items') }}
where {{ bt_listed_file('filename') }}
