select
    benchmark,
    dataset_version,
    item_id,
    item_hash,
    task_type,
    input,
    choices,
    gold,
    gold_index::integer as gold_index,
    nullif(subject, '') as subject,
    source_file,
    source_row::bigint as source_row,
    is_duplicate,
    duplicate_of,
    ingested_at::timestamptz as ingested_at
from {{ source('lake', 'items') }}
