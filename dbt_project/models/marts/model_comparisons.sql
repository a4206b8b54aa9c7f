-- One row per pair of report versions on the same benchmark, compared item by item on their shared items
-- (same item_id and same item_hash, scored at the headline cell): AUDITS.md audit 5 / 12.
--   comparison = 'models'   the latest versions of two different models (model_a < model_b)
--   comparison = 'versions' a report version (b) against the one before it for the same model × benchmark (a)
-- delta = acc_b − acc_a on the shared items; the 2×2 (both / only a / only b / neither correct); the two-sided
-- exact McNemar p-value, 2·P(X ≤ min(only_a, only_b)) for X ~ Binomial(only_a + only_b, ½), summed in log space
-- (NULL when the pair shares no item: there is nothing to test).
-- mde_normal / power_normal are normal approximations (Connor 1987; α = 0.05 two-sided, power 0.8) at the
-- observed discordant share d = (only_a + only_b)/n:
--   MDE  = √d·(√n·z_α + z_β·√(n − z_α² + z_β²)) / (n + z_β²)   (the root of Δ√n − z_α√d = z_β√(d − Δ²))
--   power at the observed Δ = Φ((|Δ|√n − z_α√d) / √(d − Δ²))
-- The reports compute the exact versions (benchtrust.stats.minimum_detectable_effect / power_exact).
{%- set z_alpha = var('z95') %}
{%- set z_beta = 0.8416212335729143 %}

with versions as (
    select * from {{ ref('report_versions') }}
),

outcomes as (
    select o.*, v.report_version
    from {{ ref('int_item_outcomes_selected') }} as o
    inner join versions as v using (model, model_version, benchmark, dataset_version, grid_version)
    where o.is_correct is not null
),

pairs as (
    select
        'models' as comparison, a.benchmark,
        a.model as model_a, a.report_version as report_version_a,
        b.model as model_b, b.report_version as report_version_b
    from versions as a
    inner join versions as b on a.benchmark = b.benchmark and a.model < b.model
    where a.is_latest and b.is_latest
    union all
    select
        'versions' as comparison, benchmark,
        model as model_a, previous_report_version as report_version_a,
        model as model_b, report_version as report_version_b
    from versions
    where previous_report_version is not null
),

shared as (
    select p.*, a.is_correct as correct_a, b.is_correct as correct_b
    from pairs as p
    inner join
        outcomes as a
        on p.benchmark = a.benchmark and p.model_a = a.model and p.report_version_a = a.report_version
    inner join
        outcomes as b
        on p.benchmark = b.benchmark and p.model_b = b.model and p.report_version_b = b.report_version
            and a.item_id = b.item_id and a.item_hash = b.item_hash
),

counts as (
    select
        p.comparison, p.benchmark, p.model_a, p.report_version_a, p.model_b, p.report_version_b,
        count(s.correct_a) as n_shared,
        count(*) filter (where s.correct_a and s.correct_b) as n_both_correct,
        count(*) filter (where s.correct_a and not s.correct_b) as n_only_a,
        count(*) filter (where not s.correct_a and s.correct_b) as n_only_b,
        count(*) filter (where not s.correct_a and not s.correct_b) as n_neither
    from pairs as p
    left join shared as s using (comparison, benchmark, model_a, report_version_a, model_b, report_version_b)
    group by all
),

stats as (
    select
        *,
        case when n_shared > 0 then (n_both_correct + n_only_a)::double / n_shared end as acc_a,
        case when n_shared > 0 then (n_both_correct + n_only_b)::double / n_shared end as acc_b,
        case when n_shared > 0 then (n_only_b - n_only_a)::double / n_shared end as delta,
        case when n_shared > 0 then (n_only_a + n_only_b)::double / n_shared end as discordant_share
    from counts
)

select
    s.comparison,
    s.benchmark,
    s.model_a,
    va.model_version as model_version_a,
    va.dataset_version as dataset_version_a,
    s.report_version_a,
    s.model_b,
    vb.model_version as model_version_b,
    vb.dataset_version as dataset_version_b,
    s.report_version_b,
    s.n_shared::integer as n_shared,
    s.acc_a,
    s.acc_b,
    s.delta,
    s.n_both_correct::integer as n_both_correct,
    s.n_only_a::integer as n_only_a,
    s.n_only_b::integer as n_only_b,
    s.n_neither::integer as n_neither,
    1 - s.discordant_share as agreement,
    case
        when s.n_shared = 0 then null  -- nothing paired: no test, never p = 1 (the reports say "no shared items")
        when s.n_only_a + s.n_only_b = 0 then 1.0
        else least(1.0, 2 * list_sum(list_transform(
                range(0, least(s.n_only_a, s.n_only_b) + 1),
                lambda k: exp(
                    lgamma(s.n_only_a + s.n_only_b + 1) - lgamma(k + 1)
                    - lgamma(s.n_only_a + s.n_only_b - k + 1) - (s.n_only_a + s.n_only_b) * ln(2)
                )
            )))
    end as mcnemar_p,
    case when s.discordant_share > 0 then
            sqrt(s.discordant_share)
            * (
                sqrt(s.n_shared) * {{ z_alpha }}
                + {{ z_beta }}
                * sqrt(greatest(s.n_shared - {{ z_alpha }} * {{ z_alpha }} + {{ z_beta }} * {{ z_beta }}, 0))
            )
            / (s.n_shared + {{ z_beta }} * {{ z_beta }})
    end as mde_normal,
    case when s.delta <> 0 and s.discordant_share - s.delta * s.delta > 0 then
            {{ normal_cdf('((abs(s.delta) * sqrt(s.n_shared) - ' ~ z_alpha ~ ' * sqrt(s.discordant_share))'
                          ~ ' / sqrt(s.discordant_share - s.delta * s.delta))') }}
    end as power_normal
from stats as s
inner join
    versions as va
    on s.model_a = va.model and s.benchmark = va.benchmark and s.report_version_a = va.report_version
inner join
    versions as vb
    on s.model_b = vb.model and s.benchmark = vb.benchmark and s.report_version_b = vb.report_version
