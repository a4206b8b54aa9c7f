-- Audit 10: label-error candidates from model agreement, one row per benchmark × dataset version × item with a
-- gold answer. A port of benchtrust.audits.label_errors.label_error_candidates (validated against the
-- MMLU-Redux expert labels, benchmarks/results/label_errors.json) to the headline cells of every model:
--
--   each model has one vote per item, split evenly over its headline rows there (several model versions);
--   valid answers: the rows with a predicted_index when any row of the benchmark × dataset version has one;
--     otherwise any single capital letter when every gold is one; otherwise any non-empty answer;
--   n_correct = votes for the gold; n_invalid = votes for no valid answer (they count in M = models on the item);
--   top alternative = the most-voted valid answer other than the gold (ties: larger accuracy-weighted vote,
--     then the smaller answer string); n_top_alternative its votes;
--   score = (n_top_alternative/M)·(1 − n_correct/M), rounded to 12 decimals;
--   llr = Σ_m w_m·(v_m(alternative) − v_m(gold)), w_m = ln((K−1)·acc_m/(1−acc_m)), acc_m = the model's share of
--     rows whose prediction equals the gold (over the benchmark × dataset version) clipped to [1/K, 0.99];
--     K = options (max predicted index + 1, the largest gold letter + 1, at least 2; letters: the distinct
--     golds and valid answers; free text: 2); rounded to 10 decimals;
--   rank: score ↓, llr ↓, item_id ↑ (1 = most suspicious);  is_candidate: n_top_alternative > M/2.
-- Answers and golds are compared after trimming surrounding whitespace, as the Python does.
with d as (
    select
        benchmark, dataset_version, model, item_id,
        regexp_replace(gold, '^\s+|\s+$', '', 'g') as gold,
        regexp_replace(coalesce(prediction, ''), '^\s+|\s+$', '', 'g') as pred,
        predicted_index
    from {{ ref('stg_lake__predictions') }}
    where is_headline and gold is not null and gold <> ''
),

scope as (
    select
        benchmark, dataset_version,
        bool_or(predicted_index is not null) as has_index,
        bool_and(regexp_full_match(gold, '[A-Z]')) as letter_golds,
        max(predicted_index) as max_index,
        max(case when regexp_full_match(gold, '[A-Z]') then ascii(gold) - ascii('A') end) as max_gold_letter
    from d
    group by all
),

marked as (
    select
        d.*,
        case
            when s.has_index then d.predicted_index is not null
            when s.letter_golds then regexp_full_match(d.pred, '[A-Z]')
            else d.pred <> ''
        end as is_valid
    from d
    inner join scope as s using (benchmark, dataset_version)
),

letter_k as (
    select benchmark, dataset_version, count(distinct answer) as n_letters
    from (
        select benchmark, dataset_version, gold as answer from marked
        union all
        select benchmark, dataset_version, pred from marked
        where is_valid
    ) as answers
    group by all
),

k as (
    select
        s.benchmark, s.dataset_version,
        case
            when s.has_index then greatest(s.max_index + 1, coalesce(s.max_gold_letter + 1, 0), 2)
            when s.letter_golds then greatest(l.n_letters, 2)
            else 2
        end as k
    from scope as s
    left join letter_k as l using (benchmark, dataset_version)
),

model_weights as (
    select
        m.benchmark, m.dataset_version, m.model,
        ln((k.k - 1) * least(greatest(
            avg(case when m.pred = m.gold then 1.0::double else 0.0::double end),
            1.0::double / k.k
        ), 0.99::double)
        / (1.0::double - least(greatest(
            avg(case when m.pred = m.gold then 1.0::double else 0.0::double end),
            1.0::double / k.k
        ), 0.99::double))) as w
    from marked as m
    inner join k using (benchmark, dataset_version)
    group by m.benchmark, m.dataset_version, m.model, k.k
),

votes as (
    select
        m.*,
        1.0::double / count(*) over (partition by m.benchmark, m.dataset_version, m.model, m.item_id) as vote,
        w.w
    from marked as m
    inner join model_weights as w using (benchmark, dataset_version, model)
),

tally as (
    select
        benchmark, dataset_version, item_id,
        case when is_valid then pred end as answer,
        any_value(gold) as gold,
        sum(vote) as vote,
        sum(vote * w) as wvote
    from votes
    group by benchmark, dataset_version, item_id, case when is_valid then pred end
),

items as (
    select benchmark, dataset_version, item_id, count(distinct model) as n_models, min(gold) as gold
    from votes
    group by all
),

top_alternative as (
    select benchmark, dataset_version, item_id, answer, vote, wvote
    from tally
    where answer is not null and answer <> gold
    qualify row_number() over (
            partition by benchmark, dataset_version, item_id
            order by vote desc, wvote desc, answer asc
        ) = 1
),

scored as (
    select
        i.benchmark, i.dataset_version, i.item_id, i.gold, i.n_models,
        coalesce(g.vote, 0.0::double) as n_correct,
        coalesce(g.wvote, 0.0::double) as w_correct,
        coalesce(inv.vote, 0.0::double) as n_invalid,
        a.answer as top_alternative,
        coalesce(a.vote, 0.0::double) as n_top_alternative,
        coalesce(a.wvote, 0.0::double) as w_alternative
    from items as i
    left join tally as g
        on i.benchmark = g.benchmark and i.dataset_version = g.dataset_version and i.item_id = g.item_id
            and i.gold = g.answer
    left join tally as inv
        on i.benchmark = inv.benchmark and i.dataset_version = inv.dataset_version and i.item_id = inv.item_id
            and inv.answer is null
    left join top_alternative as a
        on i.benchmark = a.benchmark and i.dataset_version = a.dataset_version and i.item_id = a.item_id
),

final as (
    select
        *,
        n_correct / n_models as share_correct,
        n_top_alternative / n_models as share_top_alternative,
        round((n_top_alternative / n_models) * (1.0::double - n_correct / n_models), 12) as score,
        round(w_alternative - w_correct, 10) as llr
    from scored
)

select
    benchmark,
    dataset_version,
    item_id,
    gold,
    n_models::integer as n_models,
    n_correct,
    n_top_alternative,
    top_alternative,
    n_invalid,
    share_correct,
    share_top_alternative,
    score,
    llr,
    n_top_alternative > n_models / 2.0::double as is_candidate,
    row_number() over (partition by benchmark, dataset_version order by score desc, llr desc, item_id asc)::integer
        as rank
from final
