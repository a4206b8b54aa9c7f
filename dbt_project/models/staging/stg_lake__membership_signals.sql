-- Model-based membership scores of item texts (weak evidence: near-random AUROC on Pythia per MIMIR).
{{ bt_lake_source('lake_corpus', 'membership_signals', 'membership/*/*/*.parquet', [
    ['model', 'varchar'], ['model_version', 'varchar'], ['benchmark', 'varchar'], ['dataset_version', 'varchar'],
    ['item_id', 'varchar'], ['item_hash', 'varchar'], ['n_tokens', 'integer'], ['mean_logprob', 'double'],
    ['perplexity', 'double'], ['zlib_bytes', 'integer'], ['zlib_ratio', 'double'], ['min_k', 'double'],
    ['min_k_prob', 'double'], ['min_k_plus_plus', 'double'], ['prefix_tokens', 'integer'],
    ['probe_tokens', 'integer'], ['prefix_match_tokens', 'integer'], ['prefix_match_share', 'double'],
    ['prefix_exact', 'boolean'], ['computed_at', 'timestamptz']]) }}
