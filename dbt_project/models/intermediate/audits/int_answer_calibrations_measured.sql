-- Audit 11: are the model's confidences meaningful, and does it favour an answer position? One row per model ×
-- model version × benchmark × dataset version × grid version, over the headline multiple-choice cells.
--
-- Calibration (cells with option log-probabilities and a predicted option):
--   confidence = softmax(option_logprobs)[predicted option] (= the largest option probability when the
--   prediction is the argmax, as the engine's is), written out: exp(lp_pred − max lp) / Σ_j exp(lp_j − max lp).
--   ECE = Σ_b |B_b|/n · |acc_b − conf_b| over 10 equal-width bins [b/10, (b+1)/10), confidence 1.0 in the last;
--   the bin is the number of edges 1/10 … 9/10 at or below the confidence (the edges are b/10 as doubles, the
--   convention of benchtrust.stats.calibration.reliability_table).
--   brier = mean (p_correct − correct)² over all cells with a p_correct (p_correct: the probability of the gold
--   option; the "gold-option Brier");
--   brier_top_label = mean (confidence − correct)² over the cells with a confidence (the "top-label Brier");
--   accuracy_with_confidence = accuracy over those same cells (what mean_confidence is compared with);
--   bin_counts / bin_accuracy / bin_confidence: the reliability diagram, one entry per bin 0..9 (NULL accuracy and
--   confidence for an empty bin) — the report draws these and never re-bins;
--   auroc = how well the confidence separates right from wrong answers, by the rank-sum identity with average
--   ranks for ties: (Σ_{right} rank − n₁(n₁+1)/2)/(n₁n₀); NULL if either class is empty.
--
-- Answer position (cells whose item has a gold position): pred_counts / gold_counts per option position 0..K−1
-- over the cells with a parsable prediction (predicted_index not null); position_chi2 = Σ (pred − gold)²/gold over
-- positions that hold a gold answer, position_df = that number − 1 (a goodness-of-fit test with the key as the
-- expected distribution; +inf when a position is predicted but never gold; NULL when df < 1). Its p-value needs
-- the χ² cdf, which DuckDB lacks: the report computes it with scipy (benchtrust.stats.answer_position_bias).
-- accuracy_by_position: accuracy among all cells whose gold is at that position (an unparsable answer is wrong).
with cells as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, p.item_id,
        p.predicted_index,
        i.gold_index,
        case when p.is_correct then 1.0::double else 0.0::double end as x,
        p.p_correct,
        greatest(coalesce(len(i.choices), 0), coalesce(len(p.option_logprobs), 0)) as n_listed_options,
        case
            when p.option_logprobs is not null and len(p.option_logprobs) > 0
                and p.predicted_index >= 0 and p.predicted_index < len(p.option_logprobs)
            then exp(p.option_logprobs[p.predicted_index + 1] - list_max(p.option_logprobs))
                / list_sum(list_transform(p.option_logprobs, lambda v: exp(v - list_max(p.option_logprobs))))
        end as confidence
    from {{ ref('stg_lake__predictions') }} as p
    left join {{ ref('stg_lake__items') }} as i
        on p.benchmark = i.benchmark and p.dataset_version = i.dataset_version and p.item_id = i.item_id
    where p.is_headline and p.task_type = 'multiple_choice' and p.is_correct is not null
),

confident as (
    select
        *,
        list_count(list_filter(range(1, 10), lambda b: b::double / 10 <= confidence)) as bin,
        rank() over w + (count(*) over (
            partition by
                model, model_version, benchmark, dataset_version, grid_version,
                confidence
        ) - 1) / 2.0::double as conf_rank
    from cells
    where confidence is not null
    window w as (partition by model, model_version, benchmark, dataset_version, grid_version order by confidence)
),

bins as (
    select
        model, model_version, benchmark, dataset_version, grid_version, bin,
        count(*) as n_bin,
        avg(x) as acc_bin,
        avg(confidence) as conf_bin
    from confident
    group by all
),

calibration as (
    select
        c.model, c.model_version, c.benchmark, c.dataset_version, c.grid_version,
        count(*) as n_with_confidence,
        avg(c.confidence) as mean_confidence,
        avg(c.x) as accuracy_with_confidence,
        avg((c.confidence - c.x) * (c.confidence - c.x)) as brier_top_label,
        count(*) filter (where c.x = 1) as n1,
        count(*) filter (where c.x = 0) as n0,
        sum(c.conf_rank) filter (where c.x = 1) as rank_sum_right
    from confident as c
    group by all
),

reliability_diagram as (  -- every bin 0..9 of every key with a confidence, empty bins included
    select
        c.model, c.model_version, c.benchmark, c.dataset_version, c.grid_version,
        list(coalesce(b.n_bin, 0)::integer order by k.bin) as bin_counts,
        list(b.acc_bin order by k.bin) as bin_accuracy,
        list(b.conf_bin order by k.bin) as bin_confidence
    from calibration as c
    cross join (select unnest(range(10)) as bin) as k
    left join bins as b
        on c.model = b.model and c.model_version = b.model_version and c.benchmark = b.benchmark
            and c.dataset_version = b.dataset_version and b.grid_version is not distinct from c.grid_version
            and k.bin = b.bin
    group by all
),

ece_terms as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        n_bin::double / sum(n_bin) over (partition by model, model_version, benchmark, dataset_version, grid_version)
        * abs(acc_bin - conf_bin) as term
    from bins
),

ece_sum as (
    select model, model_version, benchmark, dataset_version, grid_version, sum(term) as ece
    from ece_terms
    group by all
),

totals as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        count(*) as n_cells,
        avg(x) as accuracy,
        avg((p_correct - x) * (p_correct - x)) as brier,
        count(*) filter (where predicted_index is null or predicted_index < 0) as n_unparsed,
        greatest(max(n_listed_options), max(gold_index) + 1, max(predicted_index) + 1, 0) as n_options
    from cells
    group by all
),

positions as (
    select
        t.model, t.model_version, t.benchmark, t.dataset_version, t.grid_version, unnest(range(t.n_options)) as position
    from totals as t
),

pred_tally as (
    select
        model, model_version, benchmark, dataset_version, grid_version, predicted_index as position,
        count(*) as pred_count
    from cells
    where predicted_index >= 0 and gold_index >= 0
    group by all
),

gold_tally as (
    select
        model, model_version, benchmark, dataset_version, grid_version, gold_index as position,
        count(*) filter (where predicted_index >= 0) as gold_count,
        count(*) as n_at_position,
        count(*) filter (where predicted_index = gold_index) as hits
    from cells
    where gold_index >= 0
    group by all
),

by_position as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, p.position,
        coalesce(pt.pred_count, 0) as pred_count,
        coalesce(gt.gold_count, 0) as gold_count,
        coalesce(gt.n_at_position, 0) as n_at_position,
        case when gt.n_at_position > 0 then gt.hits::double / gt.n_at_position end as accuracy_at_position
    from positions as p
    left join pred_tally as pt using (model, model_version, benchmark, dataset_version, grid_version, position)
    left join gold_tally as gt using (model, model_version, benchmark, dataset_version, grid_version, position)
),

position_bias as (
    select
        model, model_version, benchmark, dataset_version, grid_version,
        list(pred_count::integer order by position) as pred_counts,
        list(gold_count::integer order by position) as gold_counts,
        list(n_at_position::integer order by position) as n_by_position,
        list(accuracy_at_position order by position) as accuracy_by_position,
        count(*) filter (where gold_count > 0) - 1 as position_df,
        bool_or(gold_count = 0 and pred_count > 0) as predicts_a_never_gold_position,
        sum((pred_count - gold_count)::double * (pred_count - gold_count) / gold_count) filter (where gold_count > 0)
            as chi2_on_support
    from by_position
    group by all
)

select
    t.model, t.model_version, t.benchmark, t.dataset_version, t.grid_version,
    t.n_cells::integer as n_cells,
    t.accuracy,
    coalesce(c.n_with_confidence, 0)::integer as n_with_confidence,
    c.mean_confidence,
    c.accuracy_with_confidence,
    e.ece,
    t.brier,
    c.brier_top_label,
    case when c.n1 > 0 and c.n0 > 0 then
            (c.rank_sum_right - c.n1 * (c.n1 + 1) / 2.0::double) / (c.n1::double * c.n0)
    end as auroc,
    t.n_options::integer as n_options,
    t.n_unparsed::integer as n_unparsed,
    b.pred_counts,
    b.gold_counts,
    b.n_by_position,
    b.accuracy_by_position,
    case
        when b.predicts_a_never_gold_position then 'infinity'::double
        when b.position_df >= 1 then b.chi2_on_support
    end as position_chi2,
    b.position_df::integer as position_df,
    10 as n_bins,
    rd.bin_counts,
    rd.bin_accuracy,
    rd.bin_confidence
from totals as t
left join calibration as c using (model, model_version, benchmark, dataset_version, grid_version)
left join ece_sum as e using (model, model_version, benchmark, dataset_version, grid_version)
left join position_bias as b using (model, model_version, benchmark, dataset_version, grid_version)
left join reliability_diagram as rd using (model, model_version, benchmark, dataset_version, grid_version)
