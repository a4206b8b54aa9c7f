-- One row per model × model version × benchmark × dataset version × grid version × pair of numeric
-- configurations: how far dtype / attention kernel / batch size move the scores and answers (audit 13;
-- definitions in int_numeric_configs_compared).
select
    model, model_version, benchmark, dataset_version, grid_version,
    numeric_config_a, numeric_config_b,
    dtype_a, attn_implementation_a, batch_tokens_a, dtype_b, attn_implementation_b, batch_tokens_b,
    includes_reference, n_cells, n_items,
    max_abs_delta_logprob_gold, max_abs_delta_option_logprob,
    n_argmax_compared, n_argmax_flips, argmax_flip_rate,
    n_scored, accuracy_a, accuracy_b, accuracy_delta
from {{ ref('int_numeric_configs_compared') }}
