-- Every word n-gram of every benchmark item that some corpus scan covers (AUDITS.md audit 8a), one row per
-- benchmark × dataset version × item × n × position, hashed with the shared SQL definition (macros/contamination).
-- item_df = how many distinct item texts of the same benchmark version contain the n-gram: an n-gram shared by
-- several items (a reading passage several questions refer to, a templated stem) cannot tell which item leaked,
-- so the overlap share counts only n-grams with item_df <= var('contamination_ngram_max_item_df').
-- Exact duplicate items share one text and so keep their n-grams.
-- n: the sizes the corpus pass scanned (config/corpora.yaml settings.ngram_sizes) that are also in
-- var('contamination_ngram_sizes'), which benchtrust passes from that same setting on every dbt invocation.
{{ config(materialized='table') }}

with wanted as (
    select distinct benchmark, dataset_version, n
    from {{ ref('stg_lake__corpus_ngram_scans') }}
    where n in ({{ bt_setting_var('contamination_ngram_sizes') | join(', ') }})
),

items as (
    select
        i.benchmark, i.dataset_version, i.item_id,
        {{ bt_token_hashes(bt_item_text('i.input', 'i.choices')) }} as token_hashes
    from {{ ref('stg_lake__items') }} as i
    semi join (select distinct benchmark, dataset_version from wanted) as w using (benchmark, dataset_version)
),

grams as (
    select
        it.benchmark, it.dataset_version, it.item_id, w.n, r.pos,
        hash(list_slice(it.token_hashes, r.pos, r.pos + w.n - 1)) as ngram_hash,
        hash(it.token_hashes) as text_key
    from items as it
    inner join wanted as w using (benchmark, dataset_version)
    cross join unnest(range(1, len(it.token_hashes) - w.n + 2)) as r (pos)
),

df as (
    select benchmark, dataset_version, n, ngram_hash, count(distinct text_key)::integer as item_df
    from grams
    group by all
)

select g.benchmark, g.dataset_version, g.item_id, g.n::integer as n, g.pos::integer as pos, g.ngram_hash, d.item_df
from grams as g
inner join df as d using (benchmark, dataset_version, n, ngram_hash)
