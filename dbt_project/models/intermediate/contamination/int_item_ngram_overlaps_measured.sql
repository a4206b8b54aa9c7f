-- n-gram overlap of every benchmark item with every scanned corpus version (AUDITS.md audit 8a), one row per
-- corpus version × benchmark version × item × n:
--   overlap_share        matched / all of the item's informative n-grams (item_df <= max_item_df; NULL when
--                        the item has none, e.g. fewer than n tokens)
--   raw_overlap_share    the same over all of its n-grams (shared passages and templated stems included)
--   longest_span_tokens  longest run of consecutive matched n-gram positions inside one document, in tokens
--                        (run + n − 1); 0 without a match
--   matching_doc_ids     up to 10 documents, most matched n-grams first
-- Incremental: a (corpus version, benchmark version, n) already measured is never recomputed, so adding one
-- corpus (or one benchmark version) only measures the new pairs.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['corpus', 'corpus_version', 'benchmark', 'dataset_version', 'n', 'item_id'],
    on_schema_change='fail'
) }}
{%- set max_df = var('contamination_ngram_max_item_df') %}

with pairs as (
    select distinct s.corpus, s.corpus_version, s.benchmark, s.dataset_version, s.n
    from {{ ref('stg_lake__corpus_ngram_scans') }} as s
    where s.n in ({{ bt_setting_var('contamination_ngram_sizes') | join(', ') }})
        {%- if is_incremental() %}
            and not exists (
                select 1 from {{ this }} as t
                where t.corpus = s.corpus and t.corpus_version = s.corpus_version and t.benchmark = s.benchmark
                    and t.dataset_version = s.dataset_version and t.n = s.n
            )
        {%- endif %}
),

grams as (
    select g.*
    from {{ ref('int_item_ngrams_hashed') }} as g
    semi join (select distinct benchmark, dataset_version, n from pairs) as p using (benchmark, dataset_version, n)
),

hits as (
    select distinct m.corpus, m.corpus_version, m.n, m.doc_id, m.ngram_hash
    from {{ ref('stg_lake__corpus_ngram_matches') }} as m
    semi join (select distinct corpus, corpus_version from pairs) as p using (corpus, corpus_version)
),

matched as (
    select p.corpus, p.corpus_version, g.benchmark, g.dataset_version, g.item_id, g.n, g.pos, g.item_df, h.doc_id
    from pairs as p
    inner join grams as g using (benchmark, dataset_version, n)
    inner join hits as h on p.corpus = h.corpus and p.corpus_version = h.corpus_version and g.n = h.n
        and g.ngram_hash = h.ngram_hash
),

islands as (
    select
        *,
        pos - row_number() over (
            partition by corpus, corpus_version, benchmark, dataset_version, item_id, n, doc_id order by pos
        ) as island
    from matched
),

per_doc as (
    select
        corpus, corpus_version, benchmark, dataset_version, item_id, n, doc_id,
        count(*) as doc_matched,
        max(run_len) as longest_run
    from (
        select
            *, count(*) over (
                partition by corpus, corpus_version, benchmark, dataset_version, item_id, n, doc_id, island
            ) as run_len
        from islands
    ) as runs
    group by all
),

per_item_docs as (
    select
        corpus, corpus_version, benchmark, dataset_version, item_id, n,
        count(*) as n_matching_docs,
        max(longest_run) as longest_run,
        list(doc_id order by doc_matched desc, doc_id asc)[1:10] as matching_doc_ids
    from per_doc
    group by all
),

per_item_positions as (
    select
        corpus, corpus_version, benchmark, dataset_version, item_id, n,
        count(distinct pos) as n_matched,
        count(distinct pos) filter (where item_df <= {{ max_df }}) as n_matched_informative
    from matched
    group by all
),

item_totals as (
    select
        benchmark, dataset_version, item_id, n,
        count(*) as n_ngrams,
        count(*) filter (where item_df <= {{ max_df }}) as n_informative
    from grams
    group by all
),

every_item as (
    select p.corpus, p.corpus_version, i.benchmark, i.dataset_version, i.item_id, p.n
    from pairs as p
    inner join {{ ref('stg_lake__items') }} as i using (benchmark, dataset_version)
)

select
    e.corpus,
    e.corpus_version,
    e.benchmark,
    e.dataset_version,
    e.item_id,
    e.n::integer as n,
    coalesce(t.n_ngrams, 0)::integer as n_ngrams,
    coalesce(t.n_informative, 0)::integer as n_informative,
    coalesce(m.n_matched, 0)::integer as n_matched,
    coalesce(m.n_matched_informative, 0)::integer as n_matched_informative,
    case when coalesce(t.n_informative, 0) > 0
        then coalesce(m.n_matched_informative, 0)::double / t.n_informative
    end as overlap_share,
    case when coalesce(t.n_ngrams, 0) > 0 then coalesce(m.n_matched, 0)::double / t.n_ngrams end as raw_overlap_share,
    case when d.longest_run > 0 then d.longest_run + e.n - 1 else 0 end::integer as longest_span_tokens,
    coalesce(d.n_matching_docs, 0)::integer as n_matching_docs,
    coalesce(d.matching_doc_ids, []::varchar[]) as matching_doc_ids,
    current_timestamp as measured_at
from every_item as e
left join item_totals as t using (benchmark, dataset_version, item_id, n)
left join per_item_positions as m using (corpus, corpus_version, benchmark, dataset_version, item_id, n)
left join per_item_docs as d using (corpus, corpus_version, benchmark, dataset_version, item_id, n)
