-- One row per model × model version × benchmark × dataset version × grid version: how much the prompt template
-- moves the score (audit 4; definitions in int_prompt_sensitivities_measured).
select
    model, model_version, benchmark, dataset_version, grid_version,
    n_templates, template_acc_min, max_p, avg_p, spread, cps, n_items_pss, pss,
    w_n_models, w_n_templates, kendalls_w
from {{ ref('int_prompt_sensitivities_measured') }}
