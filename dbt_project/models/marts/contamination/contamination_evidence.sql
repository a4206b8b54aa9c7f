-- One row per benchmark × dataset version × item × signal × (corpus or model): every piece of contamination
-- evidence the audits have for an item, each with its value, its threshold (where one is defined) and its
-- strength (AUDITS.md audit 8):
--   strong    ngram_overlap      share of the item's informative n-grams found in the corpus (method 'n=13', …)
--   moderate  embedding_nn       max cosine of the item to a corpus document (method = embedding model)
--   strong    ngram_overlap      method 'n=max(13,8)': the larger of the item's 13- and 8-gram overlap shares
--                                (lightly edited copies break 13-grams first; 'n=13' stays the convention row);
--                                the sizes, and so the label, are var('contamination_ngram_sizes')
--   strong    aligned_overlap    order-insensitive containment of the item's content stems in a window as long
--                                as the item (reworded copies inside unrelated text); flagged by containment, or
--                                by containment with the window's embedding cosine (int_item_aligned_evidence_scored)
--   moderate  aligned_embedding  cosine of the item to that aligned window (flagged with the containment floor)
--   moderate  prefix_completion  share of 32 greedy tokens that reproduce the item after its first 32 tokens
--   weak      perplexity, zlib_ratio, min_k_prob, min_k_plus_plus  membership scores (no threshold: near-random
--             AUROC on Pythia per MIMIR; they rank items, they do not flag them)
-- Columns that do not apply are '' (corpus for a model signal, model for a corpus signal), so the key has no NULL.
{%- set flag_share = var('contamination_ngram_flag_share') %}
{%- set flag_cos = var('contamination_embedding_flag_cosine') %}
{%- set flag_prefix = var('contamination_prefix_flag_share') %}

with ngram as (
    select
        benchmark,
        dataset_version,
        item_id,
        'ngram_overlap' as signal,
        'n=' || n as method,
        'corpus' as evidence_source,
        corpus, corpus_version, '' as model, '' as model_version,
        overlap_share as value, {{ flag_share }}::double as threshold,
        overlap_share >= {{ flag_share }} as is_flagged, 'strong' as strength,
        json_object(
            'n_informative', n_informative, 'n_matched_informative', n_matched_informative,
            'raw_overlap_share', raw_overlap_share, 'longest_span_tokens', longest_span_tokens,
            'n_matching_docs', n_matching_docs, 'matching_doc_ids', matching_doc_ids
        )::varchar as detail
    from {{ ref('int_item_ngram_overlaps_measured') }}
),

ngram_max as (  -- per corpus version × item: the largest share over the n-gram sizes (13 and 8 by default)
    select
        benchmark, dataset_version, item_id, 'ngram_overlap' as signal, '{{ bt_ngram_max_method() }}' as method,
        'corpus' as evidence_source, corpus, corpus_version, '' as model, '' as model_version,
        max(overlap_share) as value, {{ flag_share }}::double as threshold,
        max(overlap_share) >= {{ flag_share }} as is_flagged, 'strong' as strength,
        json_object(
            'overlap_share_by_n', map(list(n order by n), list(overlap_share order by n)),
            'longest_span_tokens', max(longest_span_tokens)
        )::varchar as detail
    from {{ ref('int_item_ngram_overlaps_measured') }}
    where n in ({{ bt_setting_var('contamination_ngram_sizes') | join(', ') }})
    group by all
),

aligned as (
    select
        benchmark, dataset_version, item_id, 'aligned_overlap' as signal, method_version as method,
        'corpus' as evidence_source, corpus, corpus_version, '' as model, '' as model_version,
        case when is_testable then containment end as value, containment_threshold as threshold,
        is_flagged, 'strong' as strength,
        json_object(
            'best_doc_id', best_doc_id, 'flagged_by', flagged_by, 'window_cosine', window_cosine,
            'cosine_threshold', cosine_threshold, 'min_containment_for_cosine', min_containment_for_cosine,
            'item_weight', item_weight, 'matched_weight', matched_weight, 'own_share', own_share,
            'window_start', window_start, 'window_tokens', window_tokens
        )::varchar as detail
    from {{ ref('int_item_aligned_evidence_scored') }}
),

aligned_embedding as (
    select
        benchmark, dataset_version, item_id, 'aligned_embedding' as signal, embedding_model as method,
        'corpus' as evidence_source, corpus, corpus_version, '' as model, '' as model_version,
        case when is_testable then window_cosine end as value, cosine_threshold as threshold,
        case when is_testable then containment >= min_containment_for_cosine
                and coalesce(window_cosine >= cosine_threshold, false)
        end as is_flagged,
        'moderate' as strength,
        json_object(
            'best_doc_id', best_doc_id, 'containment', containment,
            'min_containment_for_cosine', min_containment_for_cosine
        )::varchar as detail
    from {{ ref('int_item_aligned_evidence_scored') }}
    where embedding_model <> ''
),

embedding as (
    select
        benchmark,
        dataset_version,
        item_id,
        'embedding_nn' as signal,
        embedding_model as method,
        'corpus' as evidence_source,
        corpus, corpus_version, '' as model, '' as model_version,
        max_cosine as value, {{ flag_cos }}::double as threshold, max_cosine >= {{ flag_cos }} as is_flagged,
        'moderate' as strength,
        json_object('nearest_doc_ids', nearest_doc_ids, 'nearest_cosines', nearest_cosines)::varchar as detail
    from {{ ref('int_item_corpus_neighbours_ranked') }}
),

membership as (
    select
        m.benchmark, m.dataset_version, m.item_id, s.signal, s.method, 'model' as evidence_source, '' as corpus,
        '' as corpus_version, m.model, m.model_version, s.value, s.threshold, s.is_flagged, s.strength,
        json_object('n_tokens', m.n_tokens, 'min_k_plus_plus_rank', m.min_k_plus_plus_rank)::varchar as detail
    from {{ ref('int_membership_signals_scored') }} as m
    cross join lateral (
        select * from (
            values
            ('perplexity', 'token log-probs of the item text', perplexity, null::double, null::boolean, 'weak'),
            ('zlib_ratio', 'log-perplexity / zlib bytes', zlib_ratio, null, null, 'weak'),
            ('min_k_prob', 'k=' || round(min_k * 100)::integer || '%', min_k_prob, null, null, 'weak'),
            ('min_k_plus_plus', 'k=' || round(min_k * 100)::integer || '%', min_k_plus_plus, null, null, 'weak'),
            (
                'prefix_completion', prefix_tokens || '->' || probe_tokens || ' greedy', prefix_match_share,
                {{ flag_prefix }}::double, prefix_flagged, 'moderate'
            )
        -- the alias names the columns (sqlfluff's AL05 autofix would delete it with them)
        ) as v (signal, method, value, threshold, is_flagged, strength)  -- noqa: AL05
    ) as s
)

select
    benchmark::varchar as benchmark, dataset_version::varchar as dataset_version, item_id::varchar as item_id,
    signal::varchar as signal, method::varchar as method, evidence_source::varchar as evidence_source,
    corpus::varchar as corpus, corpus_version::varchar as corpus_version, model::varchar as model,
    model_version::varchar as model_version, value::double as value, threshold::double as threshold,
    is_flagged::boolean as is_flagged, strength::varchar as strength, detail::varchar as detail
from (
    select * from ngram
    union all by name
    select * from ngram_max
    union all by name
    select * from aligned
    union all by name
    select * from aligned_embedding
    union all by name
    select * from embedding
    union all by name
    select * from membership
) as evidence
