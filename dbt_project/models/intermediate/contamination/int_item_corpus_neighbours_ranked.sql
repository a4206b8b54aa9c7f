-- Embedding nearest neighbours of every benchmark item in every embedded corpus (AUDITS.md audits 8b and 9),
-- one row per embedding model × corpus version × benchmark version × item. The candidate pairs come from the
-- brute-force top-k of the embedding pass; the cosine published here is recomputed in SQL from the cached
-- embeddings (array_cosine_similarity on FLOAT[384]), and cosine_drift records any difference.
{{ config(materialized='table') }}

with emb as (
    select embedding_model, text_hash, any_value(embedding) as embedding
    from {{ ref('stg_lake__text_embeddings') }}
    group by all
),

pairs as (
    select
        n.*,
        array_cosine_similarity(ei.embedding, ed.embedding)::double as cosine_sql
    from {{ ref('stg_lake__embedding_neighbours') }} as n
    join emb as ei on ei.embedding_model = n.embedding_model and ei.text_hash = n.item_text_hash
    join emb as ed on ed.embedding_model = n.embedding_model and ed.text_hash = n.doc_text_hash
),

per_doc as (  -- a long document has several windows: keep its best one
    select embedding_model, corpus, corpus_version, benchmark, dataset_version, item_id, doc_id,
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
    list(doc_id order by cosine desc, doc_id)[1:5] as nearest_doc_ids,
    list(cosine order by cosine desc, doc_id)[1:5] as nearest_cosines,
    max(drift) as cosine_drift
from per_doc
group by all
