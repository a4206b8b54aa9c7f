-- Audit 13: does the numeric configuration (dtype, attention kernel, batch token budget) change the answers?
-- One row per model × model version × benchmark × dataset version × grid version × pair of numeric
-- configurations, over the cells that are identical except for it (same item, template, few-shot seed, answer
-- order, decoding and sample). numeric_config_a is the reference — the headline's configuration, the one at the
-- primary grid coordinates — when the pair includes it (includes_reference); otherwise the pair is in
-- alphabetical order.
--   max_abs_delta_logprob_gold    max |Δ log p(gold)|
--   max_abs_delta_option_logprob  max over cells and options of |Δ option log-probability|
--   argmax_flip_rate              share of cells (with a predicted option in both) whose predicted option differs
--   accuracy_delta                acc_b − acc_a on the cells scored in both
with labelled as (
    select
        *,
        concat_ws(' / ', coalesce(dtype, '?'), coalesce(attn_implementation, '?'), coalesce(batch_tokens::varchar, '?'))
            as numeric_config
    from {{ ref('stg_lake__predictions') }}
),

reference as (
    select distinct model, model_version, benchmark, dataset_version, grid_version, numeric_config
    from labelled
    where is_primary
),

cells as (
    select l.*, r.numeric_config is not null as is_reference
    from labelled as l
    left join reference as r
        on l.model = r.model and l.model_version = r.model_version and l.benchmark = r.benchmark
            and l.dataset_version = r.dataset_version and r.grid_version is not distinct from l.grid_version
            and l.numeric_config = r.numeric_config
),

pairs as (
    select
        a.model, a.model_version, a.benchmark, a.dataset_version, a.grid_version,
        a.numeric_config as numeric_config_a,
        b.numeric_config as numeric_config_b,
        a.dtype as dtype_a, a.attn_implementation as attn_implementation_a, a.batch_tokens as batch_tokens_a,
        b.dtype as dtype_b, b.attn_implementation as attn_implementation_b, b.batch_tokens as batch_tokens_b,
        a.is_reference as includes_reference,
        a.item_id,
        abs(b.logprob_gold - a.logprob_gold) as abs_delta_logprob_gold,
        case when len(a.option_logprobs) = len(b.option_logprobs) and len(a.option_logprobs) > 0 then
                list_max(list_transform(
                    range(1, len(a.option_logprobs) + 1),
                    lambda j: abs(b.option_logprobs[j] - a.option_logprobs[j])
                ))
        end as abs_delta_option_logprob,
        a.predicted_index as predicted_a,
        b.predicted_index as predicted_b,
        a.is_correct as correct_a,
        b.is_correct as correct_b
    from cells as a
    inner join cells as b
        on a.model = b.model and a.model_version = b.model_version and a.benchmark = b.benchmark
            and a.dataset_version = b.dataset_version and a.grid_version is not distinct from b.grid_version
            and a.item_id = b.item_id and a.template_id = b.template_id
            and a.fewshot_seed is not distinct from b.fewshot_seed
            and a.permutation_seed is not distinct from b.permutation_seed
            and a.decoding is not distinct from b.decoding
            and a.temperature is not distinct from b.temperature
            and a.sample_idx is not distinct from b.sample_idx
            and a.numeric_config <> b.numeric_config
            and (a.is_reference or (not b.is_reference and a.numeric_config < b.numeric_config))
),

compared as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version,
        p.numeric_config_a,
        p.numeric_config_b,
        any_value(p.dtype_a) as dtype_a,
        any_value(p.attn_implementation_a) as attn_implementation_a,
        any_value(p.batch_tokens_a) as batch_tokens_a,
        any_value(p.dtype_b) as dtype_b,
        any_value(p.attn_implementation_b) as attn_implementation_b,
        any_value(p.batch_tokens_b) as batch_tokens_b,
        bool_or(p.includes_reference) as includes_reference,
        count(*)::integer as n_cells,
        count(distinct p.item_id)::integer as n_items,
        max(p.abs_delta_logprob_gold) as max_abs_delta_logprob_gold,
        max(p.abs_delta_option_logprob) as max_abs_delta_option_logprob,
        count(*) filter (where p.predicted_a is not null and p.predicted_b is not null)::integer as n_argmax_compared,
        count(*) filter (where p.predicted_a <> p.predicted_b)::integer as n_argmax_flips,
        (count(*) filter (where p.predicted_a <> p.predicted_b))::double
        / nullif(count(*) filter (where p.predicted_a is not null and p.predicted_b is not null), 0)
            as argmax_flip_rate,
        count(*) filter (where p.correct_a is not null and p.correct_b is not null)::integer as n_scored,
        avg(case when p.correct_a then 1.0::double else 0.0::double end)
        filter (where p.correct_a is not null and p.correct_b is not null) as accuracy_a,
        avg(case when p.correct_b then 1.0::double else 0.0::double end)
        filter (where p.correct_a is not null and p.correct_b is not null) as accuracy_b,
        avg(
            case when p.correct_b then 1.0::double else 0.0::double end
            - case when p.correct_a then 1.0::double else 0.0::double end
        )
        filter (where p.correct_a is not null and p.correct_b is not null) as accuracy_delta
    from pairs as p
    group by
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, p.numeric_config_a, p.numeric_config_b
)

select * from compared
