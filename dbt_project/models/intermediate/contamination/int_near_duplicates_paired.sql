-- Near-duplicate item pairs inside a benchmark and across benchmarks (AUDITS.md audit 10 / 8b): one row per
-- unordered pair of items whose embedding cosine (recomputed in SQL) is at least
-- var('contamination_near_duplicate_cosine'), or that items.py flags as exact duplicates (same
-- whitespace/case-normalised question and choices). The threshold: all-MiniLM-L6-v2 puts reworded copies of
-- one question at 0.95–1.0 and distinct questions of one subject mostly below 0.9 (see
-- benchmarks/results/contamination_audits.json for the measured distributions on MMLU).
{{ config(materialized='table') }}
{%- set thr = var('contamination_near_duplicate_cosine') %}

with emb as (  -- one row per model × text hash, joined on one combined key: with two equalities on the model
    -- column, DuckDB 2.0's planner derives model = model between the two embedding scans and joins them on the
    -- model alone first (15k × 15k FLOAT[384] rows: tens of GB spilled to disk)
    select distinct on (embedding_model, text_hash) embedding_model || '/' || text_hash as emb_key, embedding
    from {{ ref('stg_lake__text_embeddings') }}
),

neighbours as (
    select
        n.embedding_model,
        -- unordered: a is the smaller (benchmark, item_id)
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.benchmark
            else n.other_benchmark
        end as benchmark_a,
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.dataset_version
            else n.other_dataset_version
        end as dataset_version_a,
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.item_id
            else n.other_item_id
        end as item_id_a,
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.other_benchmark
            else n.benchmark
        end as benchmark_b,
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.other_dataset_version
            else n.dataset_version
        end as dataset_version_b,
        case
            when (n.benchmark, n.item_id) <= (n.other_benchmark, n.other_item_id) then n.other_item_id
            else n.item_id
        end as item_id_b,
        array_cosine_similarity(ea.embedding, eb.embedding)::double as cosine
    from {{ ref('stg_lake__item_neighbours') }} as n
    inner join emb as ea on ea.emb_key = n.embedding_model || '/' || n.item_text_hash
    inner join emb as eb on eb.emb_key = n.embedding_model || '/' || n.other_text_hash
),

embedded as (
    select
        embedding_model, benchmark_a, dataset_version_a, item_id_a, benchmark_b, dataset_version_b, item_id_b,
        max(cosine) as cosine
    from neighbours
    where cosine >= {{ thr }}
    group by all
),

exact as (  -- items.py's exact duplicates (first occurrence = duplicate_of), for comparison
    select
        d.benchmark as benchmark_a,
        d.dataset_version as dataset_version_a,
        least(d.item_id, d.duplicate_of) as item_id_a,
        d.benchmark as benchmark_b,
        d.dataset_version as dataset_version_b,
        greatest(d.item_id, d.duplicate_of) as item_id_b
    from {{ ref('stg_lake__items') }} as d
    where d.is_duplicate and d.duplicate_of is not null
),

model as (
    select coalesce(max(embedding_model), '') as embedding_model from embedded
)

select
    coalesce(e.embedding_model, (select m.embedding_model from model as m)) as embedding_model,
    coalesce(e.benchmark_a, x.benchmark_a) as benchmark_a,
    coalesce(e.dataset_version_a, x.dataset_version_a) as dataset_version_a,
    coalesce(e.item_id_a, x.item_id_a) as item_id_a,
    coalesce(e.benchmark_b, x.benchmark_b) as benchmark_b,
    coalesce(e.dataset_version_b, x.dataset_version_b) as dataset_version_b,
    coalesce(e.item_id_b, x.item_id_b) as item_id_b,
    e.cosine,
    coalesce(e.cosine >= {{ thr }}, false) as is_near_duplicate,
    x.item_id_a is not null as is_exact_duplicate,
    coalesce(e.benchmark_a, x.benchmark_a) = coalesce(e.benchmark_b, x.benchmark_b) as same_benchmark,
    {{ thr }}::double as cosine_threshold
from embedded as e
full outer join exact as x
    on e.benchmark_a = x.benchmark_a and e.dataset_version_a = x.dataset_version_a and e.item_id_a = x.item_id_a
        and e.benchmark_b = x.benchmark_b and e.dataset_version_b = x.dataset_version_b and e.item_id_b = x.item_id_b
