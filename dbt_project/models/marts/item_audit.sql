-- One row per benchmark × dataset version × item: duplicate flags now; contamination, label-error and
-- difficulty evidence join here as their audits land.
{#- the n-gram evidence row of the largest share over the sizes, e.g. 'n=max(13,8)' (macros/setting_var.sql) #}
{%- set ngram_max = bt_ngram_max_method() %}

with headline as (
    select
        benchmark, dataset_version, item_id,
        count(distinct model) as n_models,
        avg(case when is_correct then 1.0 when not is_correct then 0.0 end) as headline_accuracy
    from {{ ref('stg_lake__predictions') }}
    where is_headline
    group by all
)

select
    i.benchmark,
    i.dataset_version,
    i.item_id,
    i.subject,
    i.task_type,
    i.item_hash,
    i.is_duplicate,
    i.duplicate_of,
    coalesce(h.n_models, 0)::integer as n_models,
    h.headline_accuracy,
    -- audit 10: label-error candidates (int_label_errors_scored) and item quality (int_item_qualities_checked)
    le.score as label_error_score,
    le.llr as label_error_llr,
    le.rank as label_error_rank,
    le.is_candidate as is_label_error_candidate,
    le.top_alternative as modal_wrong_option,
    le.share_top_alternative as share_agreeing_wrong,
    le.share_correct as share_choosing_gold,
    -- audit 10, issue 12: the latent-truth posterior that the gold is wrong (int_label_error_posteriors)
    lp.label_error_posterior::double as label_error_posterior,
    lp.suggested_answer::varchar as suggested_answer,
    lp.suggested_answer_posterior::double as suggested_answer_posterior,
    lp.label_error_posterior_rank::integer as label_error_posterior_rank,
    lp.label_error_votes::varchar as label_error_votes,
    -- audit 8, issue 12: corpus contamination evidence over every scanned corpus (per-corpus rows in
    -- marts.contamination_evidence): the larger 13/8-gram overlap share and the aligned-window containment
    ce.max_ngram_overlap_share,
    ce.max_aligned_containment,
    ce.max_aligned_window_cosine,
    ce.is_ngram_flagged,
    ce.is_aligned_flagged,
    q.has_repeated_options,
    q.gold_option_repeated,
    q.gold_outside_options,
    q.is_exact_duplicate
from {{ ref('stg_lake__items') }} as i
left join headline as h using (benchmark, dataset_version, item_id)
left join {{ ref('int_label_errors_scored') }} as le using (benchmark, dataset_version, item_id)
left join {{ ref('int_item_qualities_checked') }} as q using (benchmark, dataset_version, item_id)
left join (
    select
        benchmark, dataset_version, item_id,
        max(value) filter (where signal = 'ngram_overlap' and method = '{{ ngram_max }}') as max_ngram_overlap_share,
        max(value) filter (where signal = 'aligned_overlap') as max_aligned_containment,
        max(value) filter (where signal = 'aligned_embedding') as max_aligned_window_cosine,
        bool_or(is_flagged) filter (where signal = 'ngram_overlap' and method = '{{ ngram_max }}') as is_ngram_flagged,
        bool_or(is_flagged) filter (where signal = 'aligned_overlap') as is_aligned_flagged
    from {{ ref('contamination_evidence') }}
    where evidence_source = 'corpus'
    group by all
) as ce using (benchmark, dataset_version, item_id)
left join {{ ref('int_label_error_posteriors') }} as lp using (benchmark, dataset_version, item_id)
