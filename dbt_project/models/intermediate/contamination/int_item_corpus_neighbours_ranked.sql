-- Embedding nearest neighbours of every benchmark item in every embedded corpus (AUDITS.md audits 8b and 9),
-- one row per embedding model × corpus version × benchmark version × item. The candidate pairs come from the
-- brute-force top-k of the embedding pass; the cosine published here is recomputed in SQL from the cached
-- embeddings (array_cosine_similarity on FLOAT[384]), and cosine_drift records any difference.
{{ config(materialized='table') }}

with emb as (  -- one row per model × text hash, joined on one combined key: with two equalities on the model
    -- column, DuckDB 2.0's planner derives model = model between the two embedding scans and joins them on the
    -- model alone first (15k × 15k FLOAT[384] rows: tens of GB spilled to disk)
    select distinct on (embedding_model, text_hash) embedding_model || '/' || text_hash as emb_key, embedding
    from {{ ref('stg_lake__text_embeddings') }}
),

pairs as (
    select
        n.*,
        array_cosine_similarity(ei.embedding, ed.embedding)::double as cosine_sql
    from {{ ref('stg_lake__embedding_neighbours') }} as n
    inner join emb as ei on ei.emb_key = n.embedding_model || '/' || n.item_text_hash
    inner join emb as ed on ed.emb_key = n.embedding_model || '/' || n.doc_text_hash
),

per_doc as (  -- a long document has several windows: keep its best one
    select
        embedding_model, corpus, corpus_version, benchmark, dataset_version, item_id, doc_id,
        max(cosine_sql) as cosine, max(abs(cosine_sql - cosine)) as drift
    from pairs
    group by all
)

select
    embedding_model,
    corpus,
    corpus_version,
    benchmark,
    dataset_version,
    item_id,
    max(cosine) as max_cosine,
    arg_max(doc_id, cosine) as nearest_doc_id,
    list(doc_id order by cosine desc, doc_id asc)[1:5] as nearest_doc_ids,
    list(cosine order by cosine desc, doc_id asc)[1:5] as nearest_cosines,
    max(drift) as cosine_drift
from per_doc
group by all
