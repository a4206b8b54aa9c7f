-- One row per benchmark × dataset version × model at the model's latest report: does the leaderboard order survive
-- resampling the items? (audit 7; computed by benchtrust.audits.leaderboard_stability in the Python model
-- int_rankings_resampled, seeded, so a rebuild on the same inputs gives the same numbers). The benchmark pages show
-- these rows as they are. τ is NULL where it is undefined (every model ties on the full data).
select
    benchmark::varchar as benchmark,
    dataset_version::varchar as dataset_version,
    model::varchar as model,
    model_version::varchar as model_version,
    grid_version::varchar as grid_version,
    report_version::varchar as report_version,
    n_models::integer as n_models,
    n_items::integer as n_items,
    n_items_dropped::integer as n_items_dropped,
    reps::integer as reps,
    seed::integer as seed,
    accuracy::double as accuracy,
    rank::integer as rank,
    p_top1::double as p_top1,
    mean_rank::double as mean_rank,
    rank_q025::double as rank_q025,
    rank_q975::double as rank_q975,
    lomo_p_top1_change::double as lomo_p_top1_change,
    is_leader::boolean as is_leader,
    leader::varchar as leader,
    case when not isnan(tau_mean) then tau_mean end::double as tau_mean,
    case when not isnan(tau_q025) then tau_q025 end::double as tau_q025,
    case when not isnan(tau_median) then tau_median end::double as tau_median,
    case when not isnan(tau_q975) then tau_q975 end::double as tau_q975,
    p_top1_change::double as p_top1_change
from {{ ref('int_rankings_resampled') }}
