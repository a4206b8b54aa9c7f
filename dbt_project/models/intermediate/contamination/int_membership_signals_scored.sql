-- Model-based membership evidence per model × item (AUDITS.md audit 8c/8d), from the membership pass over the
-- item text: perplexity, zlib ratio (log-perplexity / zlib bytes, Carlini et al. 2021), Min-K% Prob (mean of the
-- lowest k = 20% token log-probabilities), Min-K%++ (the same over (log p − μ)/σ, μ and σ the mean and SD of
-- log p under the model's next-token distribution), and the prefix-completion probe (first 32 tokens → greedy
-- 32; share of tokens reproduced exactly). Weak evidence: MIMIR (Duan et al. 2024) finds near-random AUROC for
-- these scores on Pythia; benchmarks/results/contamination_audits.json records the AUROC on the proxy we have.
-- Only the probe has a threshold (var contamination_prefix_flag_share); the scores rank items, they do not flag.
-- Every column of the staging model is passed on (m.*): its columns are the lake's schema.
{{ config(materialized='table') }}

select
    m.*,  -- noqa: AM04
    m.prefix_match_share >= {{ var('contamination_prefix_flag_share') }} as prefix_flagged,
    percent_rank()
        over (partition by m.model, m.model_version, m.benchmark, m.dataset_version order by m.min_k_plus_plus)
        as min_k_plus_plus_rank
from {{ ref('stg_lake__membership_signals') }} as m
