-- One row per benchmark × dataset version × model × signal × method × (corpus version or model version): how
-- much of the benchmark each signal calls contaminated, and whether the model does better on flagged items
-- (AUDITS.md audits 8 and 9). Accuracy is the headline cell's; flagged and clean items are different items, so
-- their difference is unpaired: Newcombe's hybrid score interval (built from the two Wilson intervals).
-- spearman_value_correct: Spearman correlation (average ranks) of the signal's value with correctness, over the
-- tested items — audit 9, "is performance explained by closeness to known data?".
-- Corpus signals apply to every model evaluated on the benchmark version; model signals only to their model.

with outcomes as (
    select model, model_version, benchmark, dataset_version, item_id, is_correct
    from {{ ref('stg_lake__predictions') }}
    where is_headline and is_correct is not null
),

evidence as (
    select * from {{ ref('contamination_evidence') }}
),

joined as (
    select
        e.benchmark, e.dataset_version, o.model, o.model_version, e.signal, e.method, e.evidence_source, e.corpus,
        e.corpus_version, e.strength, e.item_id, e.value, e.threshold, e.is_flagged, o.is_correct
    from evidence as e
    inner join outcomes as o
        on e.benchmark = o.benchmark and e.dataset_version = o.dataset_version and e.item_id = o.item_id
            and (e.evidence_source = 'corpus' or (e.model = o.model and e.model_version = o.model_version))
),

ranked as (
    select
        *,
        rank() over w_v + (count(*) over (
            partition by
                benchmark, dataset_version, model, model_version, signal,
                method, corpus, corpus_version, value
        ) - 1) / 2.0 as r_value,
        rank() over w_c + (count(*) over (
            partition by
                benchmark, dataset_version, model, model_version, signal,
                method, corpus, corpus_version, is_correct
        ) - 1) / 2.0 as r_correct
    from joined
    where value is not null
    window
        w_v as (
            partition by benchmark, dataset_version, model, model_version, signal, method, corpus, corpus_version
            order by value
        ),
        w_c as (
            partition by benchmark, dataset_version, model, model_version, signal, method, corpus, corpus_version
            order by is_correct
        )
),

spearman as (
    select
        benchmark, dataset_version, model, model_version, signal, method, corpus, corpus_version,
        corr(r_value, r_correct) as spearman_value_correct
    from ranked
    group by all
),

counts as (
    select
        benchmark, dataset_version, model, model_version, signal, method, evidence_source, corpus, corpus_version,
        any_value(strength) as strength,
        any_value(threshold) as threshold,
        count(*) as n_items,
        count(value) as n_tested,
        count(*) filter (where is_flagged) as n_flagged,
        count(*) filter (where is_flagged = false) as n_clean,
        count(*) filter (where is_flagged and is_correct) as k_flagged,
        count(*) filter (where is_flagged = false and is_correct) as k_clean,
        avg(value) as mean_value
    from joined
    group by all
)

select
    c.benchmark::varchar as benchmark,
    c.dataset_version::varchar as dataset_version,
    c.model::varchar as model,
    c.model_version::varchar as model_version,
    c.signal::varchar as signal,
    c.method::varchar as method,
    c.evidence_source::varchar as evidence_source,
    c.corpus::varchar as corpus,
    c.corpus_version::varchar as corpus_version,
    c.strength::varchar as strength,
    c.threshold::double as threshold,
    c.n_items::integer as n_items,
    c.n_tested::integer as n_tested,
    case when c.threshold is not null then c.n_flagged end::integer as n_flagged,
    case when c.threshold is not null and c.n_tested > 0 then c.n_flagged::double / c.n_tested end as flagged_share,
    c.mean_value::double as mean_value,
    case when c.threshold is not null and c.n_clean > 0 then c.k_clean::double / c.n_clean end as acc_clean,
    {{ wilson_low('c.k_clean', 'c.n_clean') }}::double as acc_clean_ci_low,
    {{ wilson_high('c.k_clean', 'c.n_clean') }}::double as acc_clean_ci_high,
    case when c.threshold is not null and c.n_flagged > 0 then c.k_flagged::double / c.n_flagged end as acc_flagged,
    {{ wilson_low('c.k_flagged', 'c.n_flagged') }}::double as acc_flagged_ci_low,
    {{ wilson_high('c.k_flagged', 'c.n_flagged') }}::double as acc_flagged_ci_high,
    case when c.n_flagged > 0 and c.n_clean > 0
        then c.k_flagged::double / c.n_flagged - c.k_clean::double / c.n_clean
    end as acc_diff_flagged_minus_clean,
    {{ bt_newcombe_low('c.k_flagged', 'c.n_flagged', 'c.k_clean', 'c.n_clean') }}::double as acc_diff_ci_low,
    {{ bt_newcombe_high('c.k_flagged', 'c.n_flagged', 'c.k_clean', 'c.n_clean') }}::double as acc_diff_ci_high,
    s.spearman_value_correct::double as spearman_value_correct
from counts as c
left join spearman as s using (benchmark, dataset_version, model, model_version, signal, method, corpus, corpus_version)
