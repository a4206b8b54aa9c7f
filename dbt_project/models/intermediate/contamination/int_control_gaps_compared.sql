-- Control gap (AUDITS.md audit 8e): accuracy on the original items − accuracy on meaning-preserving rewrites of
-- the same items, paired item by item at the headline cell, one row per model × benchmark × rewrite:
--   answer_order      the grid's permutation_seeds (options shuffled; seed 0 is the original order)
--   prompt_template   the grid's other templates at the primary coordinates (paraphrased prompt wording)
--   entity_rename / number_words / stem_paraphrase   rewritten item text (benchtrust.contamination.rewrites),
--                     scored by the rewrite_predictions asset with the same template and seeds
-- A model that memorised the originals loses accuracy on rewrites; a robust one does not. McNemar counts:
-- orig_only = right on the original only, rewrite_only = right on the rewrite only; exact two-sided p.
{{ config(materialized='table') }}

with orig as (
    select
        model, model_version, benchmark, dataset_version, grid_version, item_id, item_hash, template_id,
        fewshot_seed, sample_idx, decoding, dtype, attn_implementation, is_correct
    from {{ ref('stg_lake__predictions') }}
    where is_headline and is_correct is not null
),

answer_order as (
    select
        o.model, o.model_version, o.benchmark, o.dataset_version, o.item_id,
        'answer_order' as rewrite_kind, 'permutation_seed=' || p.permutation_seed as variant,
        o.is_correct as orig_correct, p.is_correct as rewrite_correct
    from orig as o
    inner join {{ ref('stg_lake__predictions') }} as p
        on o.model = p.model and o.model_version = p.model_version and o.benchmark = p.benchmark
            and o.dataset_version = p.dataset_version and o.grid_version = p.grid_version and o.item_id = p.item_id
            and o.template_id = p.template_id and o.fewshot_seed = p.fewshot_seed and o.sample_idx = p.sample_idx
            and o.decoding = p.decoding and p.dtype is not distinct from o.dtype
            and p.attn_implementation is not distinct from o.attn_implementation
    where p.permutation_seed <> 0 and p.is_correct is not null
),

templates as (
    select
        o.model, o.model_version, o.benchmark, o.dataset_version, o.item_id,
        'prompt_template' as rewrite_kind, 'template=' || p.template_id as variant,
        o.is_correct as orig_correct, p.is_correct as rewrite_correct
    from orig as o
    inner join {{ ref('stg_lake__predictions') }} as p
        on o.model = p.model and o.model_version = p.model_version and o.benchmark = p.benchmark
            and o.dataset_version = p.dataset_version and o.grid_version = p.grid_version and o.item_id = p.item_id
    where p.is_primary and not p.is_headline and p.is_correct is not null
),

rewritten as (
    select
        o.model, o.model_version, o.benchmark, o.dataset_version, o.item_id,
        r.rewrite_kind, 'template=' || r.template_id as variant,
        o.is_correct as orig_correct, r.is_correct as rewrite_correct
    from orig as o
    inner join {{ ref('stg_lake__rewrite_predictions') }} as r
        on o.model = r.model and o.model_version = r.model_version and o.benchmark = r.benchmark
            and o.dataset_version = r.dataset_version and o.item_id = r.item_id and o.template_id = r.template_id
            and o.fewshot_seed = r.fewshot_seed and o.sample_idx = r.sample_idx and o.item_hash = r.original_item_hash
    where r.is_correct is not null
),

paired as (
    select * from answer_order
    union all
    select * from templates
    union all
    select * from rewritten
),

counts as (
    select
        model, model_version, benchmark, dataset_version, rewrite_kind, variant,
        count(*) as n_pairs,
        count(*) filter (where orig_correct and rewrite_correct) as n_both_correct,
        count(*) filter (where orig_correct and not rewrite_correct) as n_orig_only,
        count(*) filter (where not orig_correct and rewrite_correct) as n_rewrite_only,
        count(*) filter (where not orig_correct and not rewrite_correct) as n_neither
    from paired
    group by all
)

select
    *,
    (n_both_correct + n_orig_only)::double / n_pairs as acc_original,
    (n_both_correct + n_rewrite_only)::double / n_pairs as acc_rewrite,
    (n_orig_only - n_rewrite_only)::double / n_pairs as control_gap,
    -- Wald interval of a paired difference: SE = √(b + c − (b − c)²/n) / n
    (n_orig_only - n_rewrite_only)::double / n_pairs - {{ var('z95') }}
    * sqrt(greatest(n_orig_only + n_rewrite_only - power(n_orig_only - n_rewrite_only, 2) / n_pairs, 0)) / n_pairs
        as gap_ci_low,
    (n_orig_only - n_rewrite_only)::double / n_pairs + {{ var('z95') }}
    * sqrt(greatest(n_orig_only + n_rewrite_only - power(n_orig_only - n_rewrite_only, 2) / n_pairs, 0)) / n_pairs
        as gap_ci_high,
    {{ bt_mcnemar_exact_p('n_orig_only', 'n_rewrite_only') }} as mcnemar_p
from counts
