-- Predictions on meaning-preserving rewrites of items (the control-gap audit), same grid cells as the originals.
{{ bt_lake_source('lake_corpus', 'rewrite_predictions', 'rewrite_predictions/*/*/*.parquet', [
    ['rewrite_kind', 'varchar'], ['original_item_hash', 'varchar'], ['model', 'varchar'], ['model_version', 'varchar'],
    ['benchmark', 'varchar'], ['dataset_version', 'varchar'], ['grid_version', 'varchar'], ['item_id', 'varchar'],
    ['item_hash', 'varchar'], ['template_id', 'varchar'], ['fewshot_seed', 'integer'],
    ['permutation_seed', 'integer'], ['sample_idx', 'integer'], ['decoding', 'varchar'], ['prediction', 'varchar'],
    ['is_correct', 'boolean'], ['p_correct', 'double'], ['computed_at', 'timestamptz']]) }}
