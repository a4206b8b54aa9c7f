-- Near-duplicate item pairs inside and across benchmarks (embedding cosine >= the threshold, recomputed in SQL),
-- next to items.py's exact duplicates (same case/whitespace-normalised question and choices), one row per
-- unordered pair. is_near_duplicate and is_exact_duplicate show which audit found the pair.
select
    embedding_model::varchar as embedding_model,
    benchmark_a::varchar as benchmark_a,
    dataset_version_a::varchar as dataset_version_a,
    item_id_a::varchar as item_id_a,
    benchmark_b::varchar as benchmark_b,
    dataset_version_b::varchar as dataset_version_b,
    item_id_b::varchar as item_id_b,
    cosine::double as cosine,
    cosine_threshold::double as cosine_threshold,
    is_near_duplicate::boolean as is_near_duplicate,
    is_exact_duplicate::boolean as is_exact_duplicate,
    same_benchmark::boolean as same_benchmark
from {{ ref('int_near_duplicates_paired') }}
